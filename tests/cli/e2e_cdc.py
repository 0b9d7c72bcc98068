#!/usr/bin/python3
"""e2e_cdc.py — Change Data Capture sources end to end (run by e2e_cdc.sh).

For each database destination (SQLite, DuckDB, PostgreSQL when
TDSPIPE_PG_URI is set, and SQL Server: a second build/tdstestd) a fresh
build/tdstestd runs the cases below. pytds changes the source tables and
runs `EXEC sys.sp_cdc_scan` (one capture scan) between `tdspipe ingest`
runs. The model follows SQL Server's documentation, not the emulation:
every committed transaction's changes in order, a capture point that only
a scan moves (sys.fn_cdc_get_max_lsn() is what has been captured), and a
destination that after a run holds, per key, the last captured change
(a delete: the deleted row's values, _cdc_deleted, op D) over the
snapshot, which is the table as committed when it was read.

Covered: a snapshot while changes are committed but not yet captured
(never lost, never doubled); insert/update/delete; several updates of one
row in one transaction; insert then delete in one window; delete and
re-insert of a key in one transaction; a key update (delete + insert);
NULLs and every type (the change function's values equal the table's);
no change (nothing rewritten); cleanup past the cursor (error, then
--cdc-expired=resnapshot); two capture instances; CDC off for the
database or table; no key; a connection dropped mid-load then an
exactly-once rerun; random rounds against the model, at least
CDC_RANDOM_ROUNDS (default 100) per destination and until
CDC_RANDOM_SECONDS (default 20, shared by the destinations) have passed.

    e2e_cdc.py BUILD_DIR SRC_DIR
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_ct as ct  # noqa: E402  (the servers, destinations and checks)

TDSPIPE = ct.TDSPIPE
RANDOM_SECONDS = float(os.environ.get("CDC_RANDOM_SECONDS", "20"))
RANDOM_ROUNDS = int(os.environ.get("CDC_RANDOM_ROUNDS", "100"))
ok, bad, same = ct.ok, ct.bad, ct.same


def col(name, typ, nullable=True):
    return {"name": name, "type": typ, "nullable": nullable}


def tbl(name, cols, pk, data):
    t = {"name": name, "columns": cols, "data": data}
    if pk:
        t["primary_key"] = pk
    return t


TYPES = [("i", "int"), ("bi", "bigint"), ("si", "smallint"), ("ti", "tinyint"), ("b", "bit"), ("d", "decimal(12,3)"),
         ("m", "money"), ("f", "float"), ("r", "real"), ("dt", "date"), ("dtm", "datetime"), ("dt2", "datetime2(7)"),
         ("dto", "datetimeoffset(3)"), ("tm", "time(3)"), ("c", "char(4)"), ("vc", "varchar(20)"), ("nv", "nvarchar(20)"),
         ("nvm", "nvarchar(max)"), ("vb", "varbinary(16)"), ("g", "uniqueidentifier")]
TYPE_VALUES = [7, 9000000000000000001, -3, 250, 1, "123.456", "12.3400", 1.5, 2.25, "2024-02-29",
               "2024-02-29 13:14:15.123", "2024-02-29 13:14:15.1234567", "2024-02-29 13:14:15.123 +02:00",
               "13:14:15.123", "ab", "vär", "nä'me", "x" * 9000, None, "6F9619FF-8B86-D011-B42D-00C04FC964FF"]

SCENARIO = {
    "server": {"name": "tdstestd"},
    "logins": [{"user": "sa", "password": ct.PASSWORD, "database": "cdb"}],
    "databases": [
        {"name": "cdb", "snapshot_isolation": True,
         "cdc": {"enabled": True, "capture": "scan", "tables": [
             {"name": "orders"}, {"name": "types"}, {"name": "fault"}, {"name": "rnd"}, {"name": "e"},
             {"name": "two", "capture_instance": "two_a"},
             {"name": "two", "capture_instance": "two_b", "captured_column_list": "id, v"},
             {"name": "nokey", "supports_net_changes": False}, {"name": "ma"}, {"name": "mb"}]},
         "tables": [
             tbl("orders", [col("id", "int", False), col("customer", "nvarchar(50)"), col("amount", "decimal(10,2)")],
                 ["id"], [[1, "alice", "10.50"], [2, "bob", "20.00"], [3, "carol", "30.25"]]),
             tbl("types", [col("id", "int", False)] + [col(n, t) for n, t in TYPES], ["id"], []),
             tbl("fault", [col("id", "int", False), col("v", "int")], ["id"], [[0, 0]]),
             tbl("rnd", [col("id", "int", False), col("a", "int"), col("s", "nvarchar(30)")], ["id"],
                 [[i, i * 10, "s%d" % i] for i in range(1, 21)]),
             tbl("e", [col("id", "int", False), col("v", "int")], ["id"], [[1, 1], [2, 2]]),
             tbl("two", [col("id", "int", False), col("v", "int"), col("w", "nvarchar(10)")], ["id"], [[1, 1, "a"]]),
             tbl("plain", [col("id", "int", False)], ["id"], [[1]]),
             tbl("ma", [col("id", "int", False), col("v", "int")], ["id"], [[1, 1], [2, 2]]),
             tbl("mb", [col("id", "int", False), col("v", "int")], ["id"], [[1, 10]]),
             tbl("nokey", [col("v", "int")], None, [[1]]),
         ]},
        {"name": "offdb", "snapshot_isolation": True,
         "tables": [tbl("off", [col("id", "int", False)], ["id"], [[1]])]},
    ],
}

SCHEMA = {
    "orders": ([("id", "int")], [("customer", "str"), ("amount", "dec")]),
    "fault": ([("id", "int")], [("v", "int")]),
    "rnd": ([("id", "int")], [("a", "int"), ("s", "str")]),
    "e": ([("id", "int")], [("v", "int")]),
    "two": ([("id", "int")], [("v", "int"), ("w", "str")]),
    "ma": ([("id", "int")], [("v", "int")]),
    "mb": ([("id", "int")], [("v", "int")]),
}


# ------------------------------------------------------------------ model

class Model:
    """A source table: its rows now and its committed transactions, in
    commit order, each a list of (key, op, image); a delete's image is the
    row it deleted."""

    def __init__(self, name, rows):
        self.name = name
        self.keys, self.vals = SCHEMA[name]
        self.rows = {}
        for r in rows:
            self.rows[(str(r[0]),)] = tuple(ct.norm(kd, r[1 + i]) for i, (_, kd) in enumerate(self.vals))
        self.log = []

    def where(self, k):
        return " AND ".join("[%s] = %s" % (c, ct.lit(kd, k[i])) for i, (c, kd) in enumerate(self.keys))


class Source:
    """Changes through pytds, mirrored in the models; capture by scans."""

    def __init__(self, srv):
        self.srv = srv
        self.models = {}
        for t in SCENARIO["databases"][0]["tables"]:
            if t["name"] in SCHEMA:
                self.models[t["name"]] = Model(t["name"], t["data"])
        self.tx = None       # open transaction: [(model, key, op, image)]
        self.captured = {}   # model name -> how many of its transactions are captured
        self.commits = 0     # committed transactions, all tables
        self.global_captured = 0
        self.times = None    # whether the server records commit times (set by scan)

    def m(self, name):
        return self.models[name]

    def _x(self, sql):
        return self.srv.execute("cdb", sql)

    def _log(self, m, k, op, image):
        if self.tx is not None:
            self.tx.append((m, k, op, image))
        else:
            m.log.append([(k, op, image)])
            self.commits += 1

    def insert(self, m, k, vals):
        cols = [c for c, _ in m.keys] + [c for c, _ in m.vals]
        lits = [ct.lit("int", k[0])] + [ct.lit(kd, vals[i]) for i, (_, kd) in enumerate(m.vals)]
        self._x("INSERT INTO %s (%s) VALUES (%s)" % (m.name, ", ".join("[%s]" % c for c in cols), ", ".join(lits)))
        m.rows[k] = tuple(ct.norm(kd, vals[i]) for i, (_, kd) in enumerate(m.vals))
        self._log(m, k, "I", m.rows[k])

    def update(self, m, k, vals):
        sets = ", ".join("[%s] = %s" % (c, ct.lit(kd, vals[i])) for i, (c, kd) in enumerate(m.vals))
        self._x("UPDATE %s SET %s WHERE %s" % (m.name, sets, m.where(k)))
        m.rows[k] = tuple(ct.norm(kd, vals[i]) for i, (_, kd) in enumerate(m.vals))
        self._log(m, k, "U", m.rows[k])

    def delete(self, m, k):
        self._x("DELETE FROM %s WHERE %s" % (m.name, m.where(k)))
        self._log(m, k, "D", m.rows.pop(k))

    def rekey(self, m, k, nk):
        """An update of the key column: CDC records a delete and an insert."""
        self._x("UPDATE %s SET [id] = %s WHERE %s" % (m.name, nk[0], m.where(k)))
        img = m.rows.pop(k)
        m.rows[nk] = img
        tx = [(m, k, "D", img), (m, nk, "I", img)]
        if self.tx is not None:
            self.tx.extend(tx)
        else:
            m.log.append([(kk, op, im) for _, kk, op, im in tx])
            self.commits += 1

    def begin(self):
        self._x("BEGIN TRANSACTION")
        self.tx = []
        self.saved = {n: dict(mm.rows) for n, mm in self.models.items()}

    def commit(self):
        self._x("COMMIT TRANSACTION")
        tx, self.tx = self.tx, None
        per = {}
        for m, k, op, img in tx:
            per.setdefault(m.name, []).append((k, op, img))
        for name, chs in per.items():
            self.models[name].log.append(chs)
        self.commits += 1 if per else 0

    def rollback(self):
        self._x("ROLLBACK TRANSACTION")
        self.tx = None
        for n, rows in self.saved.items():
            self.models[n].rows = rows

    def scan(self):
        """One capture scan: every committed transaction so far."""
        self._x("EXEC sys.sp_cdc_scan")
        for n, mm in self.models.items():
            self.captured[n] = len(mm.log)
        self.global_captured = self.commits
        if self.times is None and self.commits:
            t = self._x("SELECT sys.fn_cdc_map_lsn_to_time(sys.fn_cdc_get_max_lsn())")[0][0]
            self.times = t is not None

    def max_lsn(self):
        v = self._x("SELECT sys.fn_cdc_get_max_lsn()")[0][0]
        return bytes(v).hex().upper() if v is not None else "0" * 20


class Dest:
    """What one destination table should hold, and its cursor position in
    the model's log."""

    def __init__(self, m):
        self.m = m
        self.rows = {}       # key -> (vals, deleted, op)
        self.pos = None      # how many of m.log are in the destination
        self.pending = None  # after a snapshot: the commits before it (all tables)

    def snapshot(self, captured, commits):
        self.rows = {k: (v, False, "I") for k, v in self.m.rows.items()}
        self.pos = captured
        self.pending = commits

    def changes(self, captured):
        changed = set()
        for tx in self.m.log[self.pos:captured]:
            for k, op, img in tx:
                self.rows[k] = (img, op == "D", op)
                changed.add(k)
        self.pos = max(self.pos, captured)
        return changed

    def expected(self):
        out = []
        for k, (v, dele, op) in self.rows.items():
            out.append(tuple(k) + tuple(v) + ("1" if dele else "0", op))
        return sorted(out, key=lambda r: tuple("" if x is None else x for x in r))


# --------------------------------------------------------------- runner

class Run:
    def __init__(self, srv, src, sink):
        self.srv, self.src, self.sink = srv, src, sink
        self.dests = {}

    def uri(self, params=""):
        return self.srv.uri("cdb", "mssql+cdc") + params

    def tdspipe(self, *args):
        p = subprocess.run([TDSPIPE, "ingest", "--progress", "log"] + list(args), capture_output=True, text=True)
        return p.returncode, p.stderr.strip()

    def ingest(self, name, extra=(), params="", dest=None, table=None):
        return self.tdspipe("--source-uri", self.uri(params), "--source-table", table or "cdb.dbo." + name,
                            "--dest-uri", self.sink.uri, "--dest-table", dest or "t_" + name, *extra)

    def dest_exec(self, sql):
        if self.sink.kind == "sqlite":
            import sqlite3
            c = sqlite3.connect(self.sink.path)
            c.execute(sql)
            c.commit()
            c.close()
        else:
            self.sink.query(sql, raw=True)

    def dest(self, m):
        if m.name not in self.dests:
            self.dests[m.name] = Dest(m)
        return self.dests[m.name]

    def got(self, m, dest=None):
        rows = self.sink.rows(m, dest or "t_" + m.name)
        return rows

    def sync(self, label, m, extra=(), snapshot=False, quiet=True, params=""):
        """A run that must succeed; then the destination must match the
        model. After a snapshot the changes wait until capture has passed
        it (a transaction committed after the snapshot is captured), when
        the server records commit times; until then a run reads nothing."""
        d = self.dest(m)
        snap = d.pos is None or snapshot
        cap = self.src.captured.get(m.name, 0)
        maxl, minl = self.src.max_lsn(), self.min_lsn(m)
        before = {r[0]: r[-3] for r in (self.got(m) or [])}
        old = self.sink.state(self.state(m))
        rc, err = self.ingest(m.name, extra, params)
        if rc != 0:
            bad("%s %s: exit %d" % (self.sink.kind, label, rc), err)
            return False
        # no state row (a table ingestr loaded): MAX(_cdc_lsn) is the cursor
        old_lsn = old.split(" ")[0] if old else (max(before.values())[:20] if before else None)
        if snap:
            d.snapshot(cap, self.src.commits)
            time.sleep(0.02)  # the next commit is more than 10 ms after the snapshot's time
            want = (maxl if maxl >= minl else "%020X" % (int(minl, 16) - 1), True)
            changed = None
        elif maxl <= old_lsn or (d.pending is not None and self.src.times and self.src.global_captured <= d.pending):
            want, changed = (old, None), set()  # nothing read, nothing written
        else:
            d.pending = None
            want, changed = (maxl, False), d.changes(cap)
        return self.check(label, m, want, before, old_lsn, changed, quiet)

    def min_lsn(self, m):
        inst = "two_a" if m.name == "two" else "dbo_" + m.name
        v = self.srv.execute("cdb", "SELECT sys.fn_cdc_get_min_lsn(N'%s')" % inst)[0][0]
        return bytes(v).hex().upper()

    def state(self, m, dest=None):
        return "cdc:cdb.dbo.%s:%s" % (m.name, dest or "t_" + m.name)

    def check(self, label, m, want, before, old_lsn, changed, quiet):
        d = self.dest(m)
        rows = self.got(m)
        got = [r[:-3] + r[-2:] for r in rows or []]
        exp = d.expected()
        st = self.sink.state(self.state(m)) or ""
        cur = st.split(" ")[0]
        problems = []
        if got != exp:
            problems.append("rows\n     got  %r\n     want %r" % (got, exp))
        if want[1] is None and st != want[0]:
            problems.append("cursor %r, want it unchanged %r" % (st, want[0]))
        elif want[1] is not None and (cur != want[0] or (" after " in st) != want[1]):
            problems.append("cursor %r, want %r%s" % (st, want[0], " after <the snapshot's time>" if want[1] else ""))
        for r in rows or []:
            lsn = r[-3]
            if len(lsn) != 40 or lsn.upper() != lsn:
                problems.append("_cdc_lsn %r is not 40 upper-case hex digits" % lsn)
            elif changed is None and want[1] and lsn != cur + "F" * 20:
                problems.append("snapshot row %r: _cdc_lsn %r, want the snapshot's LSN %s+F*20" % (r[0], lsn, cur))
            elif changed and (r[0],) in changed and not (old_lsn < lsn[:20] <= cur):
                problems.append("changed row %r: _cdc_lsn %r outside (%s, %s]" % (r[0], lsn, old_lsn, cur))
            elif changed is not None and (r[0],) not in changed and before.get(r[0]) != lsn:
                problems.append("unchanged row %r: _cdc_lsn moved %r -> %r" % (r[0], before.get(r[0]), lsn))
        if problems:
            bad("%s %s" % (self.sink.kind, label), "\n     ".join(problems[:5]))
            return False
        if not quiet:
            ok("%s %s" % (self.sink.kind, label))
        return True

    def fail(self, label, name, want_rc, needle, extra=(), params="", table=None):
        """A run that must fail with one line naming the problem and change nothing."""
        before = self.sink.dump("t_" + name)
        rc, err = self.ingest(name, extra, params, table=table)
        if rc == want_rc and needle in err and "\n" not in err:
            ok("%s %s (exit %d)" % (self.sink.kind, label, rc))
        else:
            bad("%s %s: exit %d, wanted %d with %r" % (self.sink.kind, label, rc, want_rc, needle), err)
        same("%s %s: destination unchanged" % (self.sink.kind, label), self.sink.dump("t_" + name), before)
        return err


def scripted(r):
    """The named cases for one destination."""
    src, k = r.src, lambda i: (str(i),)  # noqa: E731
    o = src.m("orders")
    # changes committed before the snapshot: one captured, two not yet
    src.update(o, k(1), ("alice", "11.00"))
    src.scan()
    src.insert(o, k(4), ("dave", "4.00"))
    src.update(o, k(1), ("alice", "12.00"))
    r.sync("snapshot with committed, uncaptured changes", o, quiet=False)
    src.scan()
    r.sync("capture reached only what the snapshot saw: the handoff waits, nothing read", o, quiet=False)
    same("%s the handoff is pending (cursor keeps the snapshot's time)" % r.sink.kind,
         " after " in (r.sink.state("cdc:cdb.dbo.orders:t_orders") or "") or not src.times, True)
    src.update(o, k(4), ("dave", "44.00"))  # after the snapshot
    src.scan()
    r.sync("first changes: the uncaptured ones once, nothing lost", o, quiet=False)
    same("%s no row doubled" % r.sink.kind, len(r.got(o)), 4)

    before = r.sink.dump("t_orders")
    r.sync("no changes", o, quiet=False)
    same("%s no changes: nothing rewritten (all columns, state)" % r.sink.kind, r.sink.dump("t_orders"), before)
    src.update(o, k(2), ("bob", "21.00"))
    r.sync("committed but not captured: not read yet", o, quiet=False)
    src.scan()

    src.insert(o, k(5), ("eve", "5.00"))
    src.delete(o, k(3))
    src.scan()
    r.sync("insert, update, delete", o, quiet=False)

    # a table loaded by ingestr has no state row: MAX(_cdc_lsn) is the cursor
    r.dest_exec('DELETE FROM "_tdspipe_state"')
    r.dest(o).pending = None
    src.update(o, k(5), ("eve", "6.00"))
    src.scan()
    r.sync("no state row: resume from MAX(_cdc_lsn)", o, quiet=False)
    got = {x[0]: x for x in r.got(o)}
    same("%s delete keeps the deleted row's values" % r.sink.kind, got["3"][1:3] + got["3"][-2:],
         ("carol", "30.25", "1", "D"))

    src.begin()
    for v in ("1.00", "2.00", "3.00"):
        src.update(o, k(5), ("eve", v))
    src.commit()
    src.scan()
    r.sync("several updates of one row in one transaction", o, quiet=False)

    src.insert(o, k(10), ("zed", "1.00"))
    src.update(o, k(10), ("zed", "2.00"))
    src.delete(o, k(10))
    src.scan()
    r.sync("insert, update then delete in one window", o, quiet=False)
    got = {x[0]: x for x in r.got(o)}
    same("%s tombstone carries the last values" % r.sink.kind, got.get("10", ())[1:3] + got.get("10", ())[-2:],
         ("zed", "2.00", "1", "D"))

    src.begin()
    src.delete(o, k(2))
    src.insert(o, k(2), ("bob again", "2.00"))
    src.commit()
    src.scan()
    r.sync("delete and re-insert of one key in one transaction", o, quiet=False)

    src.rekey(o, k(4), k(40))
    src.scan()
    r.sync("key update (delete + insert)", o, quiet=False)
    src.begin()
    src.rekey(o, k(40), k(41))
    src.update(o, k(41), ("dave", "41.00"))
    src.commit()
    src.scan()
    r.sync("key update then update in one transaction", o, quiet=False)

    types_case(r)
    two_instances(r)
    fault_case(r)
    multi_case(r)
    r.fail("CDC off for the database", "off", 1, "not enabled for database", table="offdb.dbo.off")
    r.fail("CDC off for the table", "plain", 1, "no capture instance")
    r.fail("no key", "nokey", 2, "--primary-key")


def types_case(r):
    """Every type and NULLs: rows that arrive through the change function
    must equal rows with the same values read by the snapshot."""
    names = ", ".join("[%s]" % n for n, _ in TYPES)

    def vals(i, nulls):
        return ", ".join([str(i)] + ["NULL" if nulls or v is None else
                                     (str(v) if isinstance(v, (int, float)) else "N'" + str(v).replace("'", "''") + "'")
                                     for v in TYPE_VALUES])

    def x(sql):
        r.srv.execute("cdb", sql)
        r.src.commits += 1  # each an autocommit transaction (the handoff model counts them)
    x("INSERT INTO types ([id], %s) VALUES (%s)" % (names, vals(1, False)))
    x("INSERT INTO types ([id], %s) VALUES (%s)" % (names, vals(2, True)))
    r.src.scan()
    cols = ["id"] + [n for n, _ in TYPES]
    q = lambda: r.sink.query("SELECT %s FROM t_types ORDER BY 1" % ", ".join(  # noqa: E731
        ('"%s"' if r.sink.kind == "mssql" else 'CAST("%s" AS VARCHAR)') % c for c in cols))
    rc, err = r.ingest("types")
    same("%s types snapshot" % r.sink.kind, (rc, err if rc else ""), (0, ""))
    x("INSERT INTO types ([id], %s) VALUES (%s)" % (names, vals(3, False)))
    x("INSERT INTO types ([id], %s) VALUES (%s)" % (names, vals(4, True)))
    x("DELETE FROM types WHERE [id] = 1")
    r.src.scan()
    rc, err = r.ingest("types")
    same("%s types changes" % r.sink.kind, (rc, err if rc else ""), (0, ""))
    rows = {row[0]: row[1:] for row in q() or []}
    same("%s every type through the change function equals the snapshot's" % r.sink.kind,
         rows.get("3"), rows.get("1"))
    same("%s NULLs of every type" % r.sink.kind, rows.get("4"), tuple(None for _ in TYPES))
    same("%s the deleted row keeps every value" % r.sink.kind, rows.get("1") is not None and rows.get("1")[1] is not None,
         True)


def multi_case(r):
    """--source-table dbo.ma,dbo.mb with dest_schema=raw: raw.ma and raw.mb,
    each with its own cursor; a table that fails leaves the other's commit
    as it was, and the error names it."""
    src = r.src
    ma, mb = src.m("ma"), src.m("mb")
    tname = (lambda n: n) if r.sink.kind == "sqlite" else (lambda n: "raw." + n)  # noqa: E731

    def run(tables, want_rc, needle=""):
        rc, err = r.tdspipe("--source-uri", r.uri("&dest_schema=raw"), "--source-table", tables,
                            "--dest-uri", r.sink.uri)
        msg = err.split("\n")[-1] if err else ""
        good = rc == want_rc and (not needle or (needle in msg and msg.startswith("tdspipe:")))
        return good, "exit %d: %s" % (rc, err)

    def rows(m):
        got = r.sink.rows(m, tname(m.name)) or []
        return sorted((x[0], x[1], x[-2], x[-1]) for x in got)

    def want(m, deleted=()):
        return sorted((k[0], v[0], "0", "I") for k, v in m.rows.items())

    good, err = run("dbo.ma, dbo.mb", 0)
    same("%s multi-table: one run loads both" % r.sink.kind, (good, rows(ma), rows(mb)),
         (True, want(ma), want(mb)) if good else (True, err, None))
    states = [r.sink.state("cdc:cdb.dbo.%s:raw.%s" % (n, n)) for n in ("ma", "mb")]
    same("%s multi-table: a cursor per table" % r.sink.kind, [bool(x) for x in states], [True, True])
    time.sleep(0.02)
    src.insert(ma, ("3",), (3,))
    src.update(mb, ("1",), (11,))
    src.scan()
    r.srv.execute("cdb", "EXEC sys.sp_cdc_disable_table @source_schema = N'dbo', @source_name = N'mb', "
                         "@capture_instance = N'all'")
    mb_before = rows(mb)
    good, err = run("dbo.mb,dbo.ma", 1, "table dbo.mb:")
    same("%s multi-table: the failed table is named, the other loads" % r.sink.kind,
         (good, [x[:2] for x in rows(ma)], rows(mb)),
         (True, [x[:2] for x in want(ma)], mb_before) if good else (True, err, None))
    same("%s multi-table: the failed table's cursor did not move" % r.sink.kind,
         r.sink.state("cdc:cdb.dbo.mb:raw.mb"), states[1])


def two_instances(r):
    src = r.src
    m = src.m("two")
    err = r.fail("two capture instances, none chosen", "two", 2, "two_a, two_b")
    same("%s two instances: the message says capture_instance" % r.sink.kind, "capture_instance" in err, True)
    r.fail("an unknown capture instance", "two", 2, "no capture instance 'zz'", params="&capture_instance=zz")
    r.sync("capture_instance=two_a", m, params="&capture_instance=two_a", quiet=False)
    src.update(m, ("1",), (2, "b"))
    src.insert(m, ("2",), (3, "c"))
    src.scan()
    r.sync("capture_instance=two_a changes", m, params="&capture_instance=two_a", quiet=False)
    rc, err = r.ingest("two", params="&capture_instance=two_b", dest="t_two_b")
    cols = r.sink.dump("t_two_b")[0] if rc == 0 else None
    same("%s capture_instance=two_b loads its captured columns only" % r.sink.kind,
         (rc, err if rc else "", len(cols[0]) if cols else None), (0, "", 2 + 4 + 1))


def fault_case(r):
    src, srv = r.src, r.srv
    f = src.m("fault")
    r.sync("fault table snapshot", f)
    for i in range(1, 31):
        src.insert(f, (str(i),), (i,))
    src.update(f, ("0",), (5,))
    src.scan()
    for fault in ("close_after_rows", "error_after_rows"):
        srv.execute("cdb", "EXEC tdstestd_fault @%s = 10, @for_new_connections = 1" % fault)
        r.fail("%s in mid-load" % fault, "fault", 1, "")
        srv.execute("cdb", "EXEC tdstestd_fault @clear = 1, @for_new_connections = 1")
    r.sync("rerun after the faults: every change exactly once", f, quiet=False)
    same("%s rerun: 31 rows" % r.sink.kind, len(r.got(f)), 31)


def expired_case(r):
    src, srv = r.src, r.srv
    e = src.m("e")
    r.sync("e snapshot", e)
    src.insert(e, ("3",), (3,))
    src.delete(e, ("1",))
    src.scan()
    src.update(e, ("2",), (20,))
    src.scan()
    low = src.max_lsn()
    try:
        srv.execute("cdb", "EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_e', @low_water_mark = 0x%s"
                    % low)
    except Exception as ex:  # noqa: BLE001 - reported, and the server may be gone
        bad("%s sys.sp_cdc_cleanup_change_table failed" % r.sink.kind, ex)
        return
    err = r.fail("cleanup past the cursor", "e", 1, "--full-refresh")
    same("%s expired cursor message names --cdc-expired=resnapshot" % r.sink.kind,
         "--cdc-expired=resnapshot" in err, True)
    d = r.dest(e)
    d.pos = None  # a resnapshot replaces the table
    d.rows = {}
    r.sync("--cdc-expired=resnapshot", e, extra=("--cdc-expired=resnapshot",), snapshot=True, quiet=False)
    src.insert(e, ("4",), (4,))
    src.scan()
    r.sync("changes after the resnapshot", e, quiet=False)
    src.update(e, ("4",), (44,))
    src.scan()
    d.rows = {}
    r.sync("--full-refresh", e, extra=("--full-refresh",), snapshot=True, quiet=False)


def random_rounds(r, seconds, seed):
    rng = random.Random(seed)
    src = r.src
    m = src.m("rnd")
    r.sync("random: snapshot", m)
    n = good = 0
    end = time.time() + seconds
    while n < RANDOM_ROUNDS or time.time() < end:
        nops = rng.choice([0, 1, 2, 3, 5, 8])
        tran = rng.random() < 0.25 and nops > 0
        roll = tran and rng.random() < 0.25
        if tran:
            src.begin()
        for _ in range(nops):
            live = sorted(m.rows, key=lambda k: int(k[0]))
            free = [str(i) for i in range(1, 61) if (str(i),) not in m.rows]
            op = rng.random()
            if (op < 0.3 or not live) and free:
                src.insert(m, (rng.choice(free),), (rng.randint(-1000, 1000), "n%d" % rng.randint(0, 999)))
            elif op < 0.6 and live:
                src.update(m, rng.choice(live), (rng.randint(-1000, 1000), "u%d" % rng.randint(0, 999)))
            elif op < 0.75 and live:
                src.delete(m, rng.choice(live))
            elif op < 0.85 and live and free:
                src.rekey(m, rng.choice(live), (rng.choice(free),))
            elif free:
                kk = (rng.choice(free),)
                src.insert(m, kk, (1, "gone"))
                src.delete(m, kk)
        if tran:
            if roll:
                src.rollback()
            else:
                src.commit()
        if rng.random() < 0.7:  # else the capture lags behind this round
            src.scan()
        n += 1
        if r.sync("random round %d" % n, m):
            good += 1
        else:
            break
    same("%s random: %d rounds match the model" % (r.sink.kind, n), good, n)


def checks_once(r, work):
    """Flag checks (one destination): each one line, exit 2, no file."""
    newdb = os.path.join(work, "never.db")

    def t(label, want, needle, *extra, params="", dest=None, table="dbo.orders"):
        p = subprocess.run([TDSPIPE, "ingest", "--source-uri", r.uri(params), "--source-table", table,
                            "--dest-uri", dest or "sqlite:///" + newdb, "--progress", "log"] + list(extra),
                           capture_output=True, text=True)
        err = p.stderr.strip()
        if p.returncode == want and needle in err and "\n" not in err:
            ok("check %s (exit %d)" % (label, want))
        else:
            bad("check %s: exit %d, wanted %d with %r" % (label, p.returncode, want, needle), err)
        same("check %s: no destination file" % label, os.path.exists(newdb), False)

    t("--sql-limit", 2, "--sql-limit", "--sql-limit", "5")
    t("strategy append", 2, "needs --full-refresh", "--incremental-strategy", "append")
    t("exclude key", 2, "key column 'id'", "--sql-exclude-columns", "id")
    t("exclude _cdc_op", 2, "'_cdc_op'", "--sql-exclude-columns", "_cdc_op")
    t("incremental key", 2, "do not apply", "--incremental-key", "id")
    t("csv destination", 2, "database destination", dest="csv://" + os.path.join(work, "x.csv"))
    t("query source", 2, "query:", "--dest-table", "x", table="query:SELECT 1 AS x")
    t("bad poll_interval", 2, "poll_interval", params="&poll_interval=soon")
    t("bad --cdc-expired", 2, "--cdc-expired", "--cdc-expired", "later")
    t("--primary-key not captured", 2, "not captured", "--primary-key", "nope")
    # the other schemes load, dest_schema names the default target's schema
    for i, scheme in enumerate(["sqlserver+cdc", "azuresql+cdc", "azure-sql+cdc"]):
        db = os.path.join(work, "s%d.db" % i)
        p = subprocess.run([TDSPIPE, "ingest", "--source-uri", r.srv.uri("cdb", scheme), "--source-table", "dbo.e",
                            "--dest-uri", "sqlite:///" + db, "--progress", "log"], capture_output=True, text=True)
        same("check scheme %s loads" % scheme, (p.returncode, p.stderr.strip() if p.returncode else ""), (0, ""))
    p = subprocess.run([TDSPIPE, "ingest", "--source-uri", r.uri("&dest_schema=raw"), "--source-table", "dbo.e",
                        "--dest-uri", "sqlite:///" + os.path.join(work, "raw.db"), "--progress", "log"],
                       capture_output=True, text=True)
    import sqlite3
    c = sqlite3.connect(os.path.join(work, "raw.db"))
    names = sorted(x[0] for x in c.execute("select name from sqlite_master where type = 'table'"))
    c.close()
    same("check dest_schema=raw names the target raw.e", (p.returncode, "raw.e" in names or "e" in names), (0, True))


def main():
    work = tempfile.mkdtemp(prefix="tdspipe-cdc.")
    try:
        scen = os.path.join(work, "cdc.json")
        with open(scen, "w") as f:
            json.dump(SCENARIO, f)
        kinds = ["sqlite"]
        if os.path.exists(ct.DUCK_LIB):
            kinds.append("duckdb")
        else:
            print("skip DuckDB: no %s" % ct.DUCK_LIB)
        if ct.PG_URI:
            kinds.append("pg")
        else:
            print("skip PostgreSQL: TDSPIPE_PG_URI not set")
        kinds.append("mssql")
        only = os.environ.get("CDC_DESTS")
        if only:
            kinds = [x for x in kinds if x in only.split(",")]
        for i, kind in enumerate(kinds):
            srv = ct.Server(scen)
            sink = None
            try:
                sink = ct.Sink(kind, work)
                sink.reset()
                r = Run(srv, Source(srv), sink)
                if kind == "sqlite":
                    checks_once(r, work)
                scripted(r)
                random_rounds(r, RANDOM_SECONDS / len(kinds), 2000 + i)
                expired_case(r)
            finally:
                srv.stop()
                if sink:
                    sink.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (ct.passes, ct.fails))
    return 1 if ct.fails else 0


if __name__ == "__main__":
    sys.exit(main())
