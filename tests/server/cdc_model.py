#!/usr/bin/env python3
"""cdc_model.py — tdstestd's Change Data Capture over the wire, against a model.

Starts tdstestd on a scenario with CDC (capture by scan), drives it with
pytds from two connections (a writer and a reader; parameters go through
sp_executesql, LSNs travel as varbinary parameters) and checks, after each
random action, every change-table row of two capture instances, the
min/max LSN, cdc.fn_cdc_get_all_changes_* and cdc.fn_cdc_get_net_changes_*
against a model written from SQL Server's documentation only:

- committed changes appear only after `EXEC sys.sp_cdc_scan`, in commit
  order, every row of a transaction with its commit LSN; rolled-back
  transactions and failed statements leave nothing;
- insert = one row (2), delete = one row (1), update = rows 3 and 4 with
  one seqval; an update of the key is a delete and an insert;
- the update mask has bit k (from the last byte) for captured column k:
  every bit for inserts and deletes, the changed ones for updates;
- net changes: inserted then deleted gives nothing, ends deleted 1, new 2,
  else 4, with the last change's LSN and values;
- a range outside [min_lsn, max_lsn] or from > to is error 313;
- cleanup to a mapping entry's LSN moves the low water mark to the
  smallest LSN sharing its tran_end_time and drops the rows below.

LSN values themselves are the server's: the model learns each
transaction's LSN from the first of its rows and holds the rest to it.

usage: cdc_model.py --tdstestd PATH [--rounds N] [--seed S]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

try:
    import pytds
except ImportError:  # ctest counts exit 77 as skipped
    print("cdc_model: pytds is not installed: skipped")
    sys.exit(77)

KEYS = range(1, 31)
NAMES = [None, "alpha", "beta", "gamma", "delta"]
QTYS = [None, 0, 1, 2, 3, 4]

SCENARIO = {
    "logins": [{"user": "sa", "password": "Passw0rd!", "database": "shop"}],
    "databases": [{
        "name": "shop",
        "tables": [{
            "name": "items",
            "columns": [{"name": "id", "type": "int", "nullable": False},
                        {"name": "name", "type": "nvarchar(20)"},
                        {"name": "qty", "type": "int"}],
            "primary_key": ["id"],
            "data": [[1, "alpha", 1], [2, None, 2]],
        }],
        "cdc": {"capture": "scan", "tables": [
            {"name": "items"},
            {"name": "items", "capture_instance": "items_qty", "captured_column_list": "id, qty"},
        ]},
    }],
}

# capture instance -> captured columns (row tuple indexes: 0 id, 1 name, 2 qty)
INSTANCES = {"dbo_items": (0, 1, 2), "items_qty": (0, 2)}


def fail(msg):
    print("cdc_model: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def err_number(e):
    return getattr(e, "msg_no", None) or getattr(e, "number", None)


class Model:
    def __init__(self):
        self.live = {1: (1, "alpha", 1), 2: (2, None, 2)}
        self.pend = None        # open transaction: list of (op, before, after, stmt)
        self.committed = []     # not captured
        self.captured = []      # dicts {"ch": [...], "lsn": None}
        self.first = 0
        self.stmt = 0
        self.min_lsn = None

    def change(self, op, before, after):
        self.pend.append((op, before, after, self.stmt))

    def commit(self):
        if self.pend:
            self.committed.append({"ch": self.pend, "lsn": None})
        self.pend = None

    def scan(self):
        self.captured.extend(self.committed)
        self.committed = []


def mask(cols, op, before, after):
    bits = 0
    for k, c in enumerate(cols):
        if op != 4 or before[c] != after[c]:
            bits |= 1 << k
    n = (len(cols) + 7) // 8
    return bits.to_bytes(n, "big")


def expected_rows(cols, ch):
    """The change-table rows (op, mask, values) of one change."""
    op, before, after, _ = ch
    m = mask(cols, op, before, after)
    pick = lambda r: tuple(r[c] for c in cols)
    if op == 2:
        return [(2, m, pick(after))]
    if op == 1:
        return [(1, m, pick(before))]
    return [(3, m, pick(before)), (4, m, pick(after))]


def fetch(cur, sql, params=()):
    # LSNs go as varbinary (pytds.Binary); plain bytes would be sent as text
    params = tuple(pytds.Binary(p) if isinstance(p, bytes) else p for p in params)
    cur.execute(sql, params) if params else cur.execute(sql)
    return cur.fetchall()


def check_ct(cur, model, inst, learn):
    cols = INSTANCES[inst]
    names = ", ".join(["id", "name", "qty"][c] for c in cols)
    rows = fetch(cur, "SELECT __$start_lsn, __$seqval, __$operation, __$update_mask, %s, __$command_id FROM cdc.%s_CT"
                 % (names, inst))
    k = 0
    prev_lsn = b""
    for tx in model.captured[model.first:]:
        prev_seq = b""
        cmd = 0
        chs = tx["ch"]
        j = 0
        while j < len(chs):
            e = j
            while e < len(chs) and chs[e][3] == chs[j][3]:
                e += 1
            want, got = [], []
            for ch in chs[j:e]:
                exp = expected_rows(cols, ch)
                want.append(exp)
                obs = []
                for _ in exp:
                    check(k < len(rows), "%s: fewer change rows than the model" % inst)
                    r = rows[k]
                    k += 1
                    if tx["lsn"] is None:
                        check(learn, "%s: the transaction's LSN was learned from the other instance" % inst)
                        tx["lsn"] = r[0]
                    check(r[0] == tx["lsn"], "%s: rows of a transaction share its commit LSN" % inst)
                    obs.append((r[2], r[3], tuple(r[4:-1])))
                    if r[2] != 4:
                        check(r[1] > prev_seq, "%s: seqval increases" % inst)
                        cmd += 1
                    else:
                        check(r[1] == prev_seq, "%s: update rows share their seqval" % inst)
                    check(r[-1] == cmd, "%s: command_id %s, expected %d" % (inst, r[-1], cmd))
                    prev_seq = r[1]
                got.append(obs)
            check(sorted(want) == sorted(got), "%s statement %d: %r != %r" % (inst, chs[j][3], got, want))
            j = e
        check(tx["lsn"] > prev_lsn, "commit LSNs increase in commit order")
        prev_lsn = tx["lsn"]
    check(k == len(rows), "%s: %d change rows, the model has %d" % (inst, len(rows), k))
    return rows


def check_net(cur, model, f, lo, hi):
    want = set()
    for key in KEYS:
        first = last = None
        lsn = None
        for tx in model.captured[f:]:
            for ch in tx["ch"]:
                op, before, after, _ = ch
                if (after if op == 2 else before)[0] != key:
                    continue
                first = first or ch
                last, lsn = ch, tx["lsn"]
        if not first or (first[0] == 2 and last[0] == 1):
            continue
        op = 1 if last[0] == 1 else 2 if first[0] == 2 else 4
        want.add((lsn, op, None) + (last[1] if last[0] == 1 else last[2]))
    got = set(tuple(r) for r in fetch(cur, "SELECT * FROM cdc.fn_cdc_get_net_changes_dbo_items(%s, %s, N'all')", (lo, hi)))
    check(got == want, "net changes %r != model %r" % (sorted(got), sorted(want)))


def expect_313(cur, sql, params):
    try:
        fetch(cur, sql, params)
    except pytds.tds_base.Error as e:
        check(err_number(e) == 313, "expected error 313, got %s %s" % (err_number(e), e))
        return
    fail("expected error 313: %s" % sql)


def check_all(cur, model, last_max, may_move, rng):
    ct = check_ct(cur, model, "dbo_items", True)
    check_ct(cur, model, "items_qty", False)
    (mn, mx), = fetch(cur, "SELECT sys.fn_cdc_get_min_lsn(%s), sys.fn_cdc_get_max_lsn()", ("dbo_items",))
    check(mn == model.min_lsn, "min LSN is the low water mark")
    if not may_move:
        check(mx == last_max, "max LSN moves only when the capture runs")
    live = model.captured[model.first:]
    if live:
        check(mx >= live[-1]["lsn"], "max LSN covers every captured transaction")
    if mn > mx:
        return mx
    rows = fetch(cur, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_items(%s, %s, N'all update old')", (mn, mx))
    check([tuple(r) for r in rows] == [tuple(r[:-1]) for r in ct],
          "all changes ('all update old') equal the change table")
    rows = fetch(cur, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_items(%s, %s, N'all')", (mn, mx))
    check(len(rows) == sum(1 for r in ct if r[2] != 3), "'all' leaves out update-old rows")
    f = model.first + (rng.randrange(len(live)) if live else 0)
    lo = mn if f == model.first else fetch(cur, "SELECT sys.fn_cdc_increment_lsn(%s)", (model.captured[f - 1]["lsn"],))[0][0]
    check_net(cur, model, f, lo, mx)
    below = fetch(cur, "SELECT sys.fn_cdc_decrement_lsn(%s)", (mn,))[0][0]
    expect_313(cur, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_items(%s, %s, N'all')", (below, mx))
    above = fetch(cur, "SELECT sys.fn_cdc_increment_lsn(%s)", (mx,))[0][0]
    expect_313(cur, "SELECT * FROM cdc.fn_cdc_get_net_changes_dbo_items(%s, %s, N'all')", (above, mx))
    return mx


def statement(cur, model, rng):
    model.stmt += 1
    k = rng.randrange(20)
    live = sorted(model.live)
    free = [i for i in KEYS if i not in model.live]
    if k < 7 or not live:
        row = (rng.choice(list(KEYS)), rng.choice(NAMES), rng.choice(QTYS))
        try:
            cur.execute("INSERT INTO items (id, name, qty) VALUES (%s, %s, %s)", row)
        except pytds.tds_base.Error as e:
            check(row[0] in model.live and err_number(e) == 2627, "insert failed: %s" % e)
            return
        check(row[0] not in model.live, "duplicate key accepted")
        model.change(2, None, row)
        model.live[row[0]] = row
    elif k < 12:
        b = model.live[rng.choice(live)]
        a = (b[0], rng.choice(NAMES), rng.choice(QTYS))
        cur.execute("UPDATE items SET name = %s, qty = %s WHERE id = %s", (a[1], a[2], b[0]))
        model.change(4, b, a)
        model.live[a[0]] = a
    elif k < 14 and free:
        b = model.live[rng.choice(live)]
        a = (rng.choice(free),) + b[1:]
        cur.execute("UPDATE items SET id = %s WHERE id = %s", (a[0], b[0]))
        model.change(1, b, None)
        model.change(2, None, a)
        del model.live[b[0]]
        model.live[a[0]] = a
    elif k < 18:
        b = model.live[rng.choice(live)]
        cur.execute("DELETE FROM items WHERE id = %s", (b[0],))
        model.change(1, b, None)
        del model.live[b[0]]
    else:
        q = rng.randrange(5)
        cur.execute("DELETE FROM items WHERE qty = %s", (q,))
        for key in sorted(model.live):
            if model.live[key][2] == q:
                model.change(1, model.live[key], None)
                del model.live[key]


def cleanup(cur, model, rng):
    live = model.captured[model.first:]
    if not live:
        return
    lsn = rng.choice(live)["lsn"]
    mapping = fetch(cur, "SELECT start_lsn, tran_end_time FROM cdc.lsn_time_mapping")
    when = [t for s, t in mapping if s == lsn]
    check(len(when) == 1, "a captured transaction has one mapping entry")
    mark = min(s for s, t in mapping if t == when[0])
    cur.execute("EXEC sys.sp_cdc_cleanup_change_table @capture_instance = %s, @low_water_mark = %s",
                ("dbo_items", pytds.Binary(lsn)))
    # the other instance keeps its own low water mark: clean it to the same point
    cur.execute("EXEC sys.sp_cdc_cleanup_change_table @capture_instance = %s, @low_water_mark = %s",
                ("items_qty", pytds.Binary(lsn)))
    model.min_lsn = max(model.min_lsn, mark)
    while model.first < len(model.captured) and model.captured[model.first]["lsn"] < model.min_lsn:
        model.first += 1


def run(tdstestd, rounds, seed):
    work = tempfile.mkdtemp(prefix="cdc_model.")
    scen = os.path.join(work, "scenario.json")
    with open(scen, "w") as f:
        json.dump(SCENARIO, f)
    ports = open(os.path.join(work, "ports"), "w+")
    srv = subprocess.Popen([tdstestd, "--scenario", scen, "--port", "0"], stdout=ports,
                           stderr=open(os.path.join(work, "log"), "w"))
    try:
        port = None
        for _ in range(100):
            ports.seek(0)
            for line in ports.read().splitlines():
                if line.startswith("port "):
                    port = int(line.split()[1])
            if port or srv.poll() is not None:
                break
            time.sleep(0.1)
        check(port, "tdstestd did not start")
        conn = lambda: pytds.connect(server="127.0.0.1", port=port, user="sa", password="Passw0rd!",
                                     database="shop", autocommit=True, login_timeout=10)
        writer, reader = conn(), conn()
        w, r = writer.cursor(), reader.cursor()
        rng = random.Random(seed)
        model = Model()
        (model.min_lsn, last_max), = fetch(r, "SELECT sys.fn_cdc_get_min_lsn(%s), sys.fn_cdc_get_max_lsn()", ("dbo_items",))
        (other_min,), = fetch(r, "SELECT sys.fn_cdc_get_min_lsn(%s)", ("items_qty",))
        check(other_min > model.min_lsn, "the second instance was enabled later")
        for _ in range(rounds):
            a = rng.randrange(10)
            scanned = False
            if a < 5:
                model.pend = []
                statement(w, model, rng)
                model.commit()
            elif a < 8:
                saved = dict(model.live)
                w.execute("BEGIN TRANSACTION")
                model.pend = []
                for _ in range(rng.randrange(1, 6)):
                    statement(w, model, rng)
                    if rng.randrange(6) == 0:
                        r.execute("EXEC sys.sp_cdc_scan")
                        model.scan()
                        scanned = True
                if rng.randrange(5) == 0:
                    w.execute("ROLLBACK TRANSACTION")
                    model.live, model.pend = saved, None
                else:
                    w.execute("COMMIT TRANSACTION")
                    model.commit()
            elif a == 8:
                r.execute("EXEC sys.sp_cdc_scan")
                model.scan()
                scanned = True
            else:
                cleanup(r, model, rng)
            last_max = check_all(r, model, last_max, scanned, rng)
        src = fetch(r, "SELECT id, name, qty FROM items ORDER BY id")
        check([tuple(x) for x in src] == [model.live[k] for k in sorted(model.live)], "source table equals the model")
        writer.close()
        reader.close()
        print("cdc_model: ok: %d rounds, %d transactions captured, %d cleaned up" %
              (rounds, len(model.captured), model.first))
    finally:
        srv.terminate()
        srv.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tdstestd", required=True)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--seed", type=int, default=14)
    a = ap.parse_args()
    run(a.tdstestd, a.rounds, a.seed)


if __name__ == "__main__":
    main()
