#!/usr/bin/python3
"""e2e_stream.py — `tdspipe ingest --stream` end to end (run by
e2e_stream_ct.sh and e2e_stream_cdc.sh).

    e2e_stream.py BUILD_DIR SRC_DIR ct|cdc

Against build/tdstestd's Change Tracking (ct) or Change Data Capture (cdc;
capture lags behind commits: a thread runs sys.sp_cdc_scan every 150 ms)
emulation, into SQLite:

1. Random concurrent changes (inserts, updates, deletes, some in
   multi-statement transactions) for STREAM_SECONDS (default 60) while
   one stream runs; its connection is dropped twice (tdstestd faults armed
   for new logins: every poll then fails until cleared); one SIGTERM in
   the middle of the changes (exit 0) and a restart; at the end the live
   destination rows equal the source table (read back) and the writer's
   model, no key twice, every tombstone a deleted key.
2. /metrics scraped and parsed (Prometheus text 0.0.4): counters agree
   with what happened (errors and reconnects after the drops, rows > 0),
   404 for another path.
3. SIGTERM latency while idle: exit 0 within 2 s.
4. Restamp while idle (TDSPIPE_RESTAMP_INTERVAL=5s): another table's
   change moves the source's head; the state row's cursor stays before the
   restamp is due and moves to the head after, with no data row rewritten.
5. (cdc) Restamp from the cleanup retention (no TDSPIPE_RESTAMP_INTERVAL):
   sp_cdc_change_job sets it to 1 minute, so the idle cursor is restamped
   after a quarter of it, 15 s: not at 10 s (neither the 5 s floor), and
   by 25 s (not the 5-minute default). Step 4 then runs with that
   retention: TDSPIPE_RESTAMP_INTERVAL=5s still wins.
"""
import ctypes
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytds

BUILD, SRC, KIND = sys.argv[1], sys.argv[2], sys.argv[3]
TDSPIPE = os.path.join(BUILD, "tdspipe")
TDSTESTD = os.path.join(BUILD, "tdstestd")
PASSWORD = "Passw0rd!"
SECONDS = float(os.environ.get("STREAM_SECONDS", "60"))
KEYS = 150

fails = 0


def ok(name):
    print("ok   " + name, flush=True)


def bad(name, detail=""):
    global fails
    fails += 1
    print("FAIL " + name, flush=True)
    if detail:
        print("     " + str(detail)[:3000], flush=True)


def check(name, cond, detail=""):
    ok(name) if cond else bad(name, detail)


def col(name, typ, nullable=True):
    return {"name": name, "type": typ, "nullable": nullable}


def tbl(name, data):
    t = {"name": name, "columns": [col("id", "int", False), col("a", "int"), col("s", "nvarchar(30)")],
         "primary_key": ["id"], "data": data}
    if KIND == "ct":
        t["change_tracking"] = True
    return t


DB = {"name": "sdb", "snapshot_isolation": True,
      "tables": [tbl("rnd", [[i, i, "s%d" % i] for i in range(1, 41)]), tbl("other", [[1, 1, "x"]])]}
if KIND == "ct":
    DB["change_tracking"] = {"enabled": True, "retention_days": 2, "auto_cleanup": True}
else:
    # capture lags behind commits: a scanner thread runs sys.sp_cdc_scan
    DB["cdc"] = {"enabled": True, "capture": "scan", "tables": [{"name": "rnd"}, {"name": "other"}]}
SCENARIO = {"server": {"name": "tdstestd"}, "logins": [{"user": "sa", "password": PASSWORD, "database": "sdb"}],
            "databases": [DB]}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, path):
        die = lambda: ctypes.CDLL("libc.so.6").prctl(1, 15)  # noqa: E731
        self.p = subprocess.Popen([TDSTESTD, "--scenario", path, "--port", "0"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, preexec_fn=die)
        line = self.p.stdout.readline()
        if not line.startswith("port "):
            raise SystemExit("tdstestd did not start: %r" % line)
        self.port = int(line.split()[1])

    def connect(self):
        return pytds.connect(server="127.0.0.1", port=self.port, user="sa", password=PASSWORD, database="sdb",
                             autocommit=True)

    def uri(self):
        return "mssql+%s://sa:Passw0rd%%21@127.0.0.1:%d/sdb?encrypt=disable&poll_interval=200ms" % (KIND, self.port)

    def stop(self):
        self.p.terminate()
        self.p.wait()


def q(con, sql):
    cur = con.cursor()
    cur.execute(sql)
    try:
        return cur.fetchall()
    except Exception:  # noqa: BLE001 - no result set
        return None


def head(con):
    """The source's head as the stream's cursor writes it."""
    if KIND == "ct":
        return "%020d" % int(q(con, "SELECT CHANGE_TRACKING_CURRENT_VERSION()")[0][0])
    return bytes(q(con, "SELECT sys.fn_cdc_get_max_lsn()")[0][0]).hex().upper()


class Stream:
    def __init__(self, work, srv, metrics=None, env=None, table="rnd"):
        args = [TDSPIPE, "ingest", "--source-uri", srv.uri(), "--source-table", "dbo." + table,
                "--dest-uri", "sqlite:///" + os.path.join(work, "dest.db"), "--stream", "--progress", "json"]
        if metrics:
            args += ["--metrics-addr", "127.0.0.1:%d" % metrics]
        e = dict(os.environ)
        e.update(env or {})
        # the child appends; log() reads through its own descriptor (a
        # shared offset would let a read move where the child writes)
        self.path = os.path.join(work, "stream-%s-%f.log" % (table, time.time()))
        with open(self.path, "a") as err:
            self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, env=e)

    def term(self):
        """SIGTERM; (exit code, seconds to exit)."""
        t0 = time.monotonic()
        self.p.terminate()
        try:
            rc = self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        return rc, time.monotonic() - t0

    def log(self):
        with open(self.path) as f:
            return f.read()


def dest(work, sql):
    con = sqlite3.connect(os.path.join(work, "dest.db"), timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def state(work, table):
    try:
        rows = dest(work, "SELECT value FROM _tdspipe_state WHERE name LIKE '%%.%s:%%'" % table)
    except sqlite3.Error:
        return None
    return rows[0][0].split(" ")[0] if rows else None


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def scrape(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def parse_prom(text):
    """{name: value}; every sample preceded by its HELP and TYPE."""
    vals, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            name, value = line.split(" ")
            if name not in typed:
                raise ValueError("no TYPE for " + name)
            vals[name] = float(value)
    return vals


class Writer(threading.Thread):
    """Random changes to dbo.rnd; the model is the table it should leave."""

    def __init__(self, srv, seed):
        super().__init__(daemon=True)
        self.con = srv.connect()
        self.rng = random.Random(seed)
        self.model = {i: (i, "s%d" % i) for i in range(1, 41)}
        self.stop = threading.Event()
        self.changes = 0
        self.error = None

    def one(self, model):
        k = self.rng.randint(1, KEYS)
        a = self.rng.randint(-1000, 1000)
        s = "v%d" % self.rng.randint(0, 10 ** 6)
        if k in model and self.rng.random() < 0.3:
            del model[k]
            return "DELETE FROM rnd WHERE id = %d" % k
        if k in model:
            model[k] = (a, model[k][1])
            return "UPDATE rnd SET a = %d WHERE id = %d" % (a, k)
        model[k] = (a, s)
        return "INSERT INTO rnd (id, a, s) VALUES (%d, %d, N'%s')" % (k, a, s)

    def run(self):
        try:
            while not self.stop.is_set():
                if self.rng.random() < 0.2:  # a transaction of several changes
                    m = dict(self.model)
                    sql = [self.one(m) for _ in range(self.rng.randint(2, 6))]
                    q(self.con, "BEGIN TRANSACTION; " + "; ".join(sql) + "; COMMIT TRANSACTION")
                    self.model = m
                    self.changes += len(sql)
                else:
                    m = dict(self.model)
                    q(self.con, self.one(m))
                    self.model = m
                    self.changes += 1
                time.sleep(self.rng.random() * 0.02)
        except Exception as e:  # noqa: BLE001
            self.error = e


class Scanner(threading.Thread):
    """The capture job: one scan every 150 ms (cdc only)."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.con = srv.connect()
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                q(self.con, "EXEC sys.sp_cdc_scan")
                time.sleep(0.15)
        except Exception as e:  # noqa: BLE001
            self.error = e


def errors(mport):
    try:
        return parse_prom(scrape(mport)[2]).get("tdspipe_errors_total", 0)
    except (OSError, ValueError):
        return 0


def drop(ctl, seconds, mport):
    """Every new login's connection closes after 3 rows of a reply, for at
    least `seconds` and until the stream has seen it fail (a poll that
    started before the fault was armed is not hit, and on a loaded machine
    one poll can outlast the window)."""
    e0 = errors(mport)
    q(ctl, "EXEC tdstestd_fault @close_after_rows = 3, @for_new_connections = 1")
    time.sleep(seconds)
    wait_for(lambda: errors(mport) > e0, 20)
    q(ctl, "EXEC tdstestd_fault @clear = 1, @for_new_connections = 1")


def compare(work, srv, writer):
    con = srv.connect()
    src = {r[0]: (r[1], r[2]) for r in q(con, "SELECT id, a, s FROM rnd")}
    con.close()
    check("the writer's model is the source table", src == writer.model,
          "%d vs %d rows" % (len(src), len(writer.model)))
    rows = dest(work, "SELECT id, a, s, _cdc_deleted FROM rnd")
    keys = [r[0] for r in rows]
    check("no key twice in the destination", len(keys) == len(set(keys)))
    live = {r[0]: (r[1], r[2]) for r in rows if str(r[3]) in ("0", "False", "false")}
    gone = [r[0] for r in rows if str(r[3]) not in ("0", "False", "false")]
    diff = {k: (live.get(k), src.get(k)) for k in set(live) | set(src) if live.get(k) != src.get(k)}
    check("destination equals the source (%d live rows, %d tombstones, %d changes)" %
          (len(live), len(gone), writer.changes), not diff, sorted(diff.items())[:10])
    check("every tombstone is a deleted key", not [k for k in gone if k in src])


def scenario_stream(work, srv):
    mport = free_port()
    ctl = srv.connect()
    writer = Writer(srv, 14)
    s1 = Stream(work, srv, metrics=mport)
    check("first stream: snapshot committed", wait_for(lambda: state(work, "rnd") is not None, 30), s1.log())
    writer.start()
    t0 = time.monotonic()
    time.sleep(SECONDS * 0.15)
    drop(ctl, 1.5, mport)
    time.sleep(SECONDS * 0.15)
    drop(ctl, 1.5, mport)
    time.sleep(1.0)
    status, ctype, text = scrape(mport)
    try:
        m = parse_prom(text)
    except ValueError as e:
        m = {}
        bad("metrics parse", e)
    check("metrics: 200, Prometheus 0.0.4", status == 200 and "version=0.0.4" in ctype, ctype)
    check("metrics: two drops counted (errors, reconnects)",
          m.get("tdspipe_errors_total", 0) >= 2 and m.get("tdspipe_reconnects_total", 0) >= 2, m)
    check("metrics: rows applied and batches", m.get("tdspipe_rows_applied_total", 0) > 0 and
          m.get("tdspipe_batches_total", 0) > 0 and m.get("tdspipe_last_commit_timestamp_seconds", 0) > 1e9, m)
    check("metrics: lag gauges present", "tdspipe_lag_seconds" in m and "tdspipe_lag_distance" in m, m)
    try:
        scrape(mport, "/other")
        bad("metrics: 404 for another path")
    except urllib.error.HTTPError as e:
        check("metrics: 404 for another path", e.code == 404, e.code)
    rc, secs = s1.term()  # mid-changes
    check("SIGTERM while busy: exit 0 (%.2fs)" % secs, rc == 0, s1.log()[-2000:])
    s2 = Stream(work, srv)
    rest = SECONDS - (time.monotonic() - t0)
    time.sleep(max(rest, 1))
    writer.stop.set()
    writer.join()
    check("writer ran without error", writer.error is None, writer.error)
    time.sleep(0.5)  # (cdc) the last changes captured
    con = srv.connect()
    h = head(con)
    con.close()
    check("restarted stream catches up with the source", wait_for(lambda: (state(work, "rnd") or "") >= h, 30),
          "%s vs %s\n%s" % (state(work, "rnd"), h, s2.log()[-1500:]))
    time.sleep(0.5)
    rc, secs = s2.term()  # idle now
    check("SIGTERM while idle: exit 0 within 2 s (%.2fs)" % secs, rc == 0 and secs < 2.0, s2.log()[-1500:])
    lines = [json.loads(x) for x in s2.log().splitlines() if x.startswith("{")]
    check("--progress json: stream events with lag fields",
          lines and all(x["event"] == "stream" and "lag_s" in x and "lag_distance" in x for x in lines),
          s2.log()[-500:])
    compare(work, srv, writer)
    ctl.close()


def scenario_restamp(work, srv):
    con = srv.connect()
    s = Stream(work, srv, env={"TDSPIPE_RESTAMP_INTERVAL": "5s"})
    time.sleep(1.0)
    before_rows = dest(work, "SELECT id, a, s, _cdc_lsn FROM rnd ORDER BY id")
    c0 = state(work, "rnd")
    q(con, "UPDATE other SET a = %d WHERE id = 1" % random.randint(2, 10 ** 6))  # the head moves, rnd is idle
    time.sleep(0.5)  # (cdc) captured
    h = head(con)
    time.sleep(1.0)
    check("idle: the cursor is not rewritten every poll", state(work, "rnd") == c0, (state(work, "rnd"), c0))
    moved = wait_for(lambda: (state(work, "rnd") or "") >= h, 8)
    check("restamp while idle: the cursor moves to the source's head", moved and c0 < h,
          "%s -> %s, head %s" % (c0, state(work, "rnd"), h))
    check("restamp rewrote no data row", dest(work, "SELECT id, a, s, _cdc_lsn FROM rnd ORDER BY id") == before_rows)
    rc, secs = s.term()
    check("SIGTERM after restamp: exit 0 within 2 s (%.2fs)" % secs, rc == 0 and secs < 2.0, s.log()[-1000:])
    con.close()


def scenario_restamp_retention(work, srv):
    con = srv.connect()
    q(con, "EXEC sys.sp_cdc_change_job @job_type = N'cleanup', @retention = 1")
    s = Stream(work, srv)
    t0 = time.monotonic()
    time.sleep(1.0)
    c0 = state(work, "rnd")
    q(con, "UPDATE other SET a = %d WHERE id = 1" % random.randint(2, 10 ** 6))  # the head moves, rnd is idle
    time.sleep(0.5)  # captured
    h = head(con)
    time.sleep(max(0.0, 10.0 - (time.monotonic() - t0)))
    check("retention 1 minute: no restamp at 10 s (every 15 s, not 5 s)", state(work, "rnd") == c0,
          (state(work, "rnd"), c0, s.log()[-1000:]))
    moved = wait_for(lambda: (state(work, "rnd") or "") >= h, 25.0 - (time.monotonic() - t0))
    check("retention 1 minute: restamped by 25 s (%.1f s; not the 5-minute default)" % (time.monotonic() - t0),
          moved and c0 < h, "%s -> %s, head %s\n%s" % (c0, state(work, "rnd"), h, s.log()[-1000:]))
    rc, secs = s.term()
    check("SIGTERM after the retention restamp: exit 0 within 2 s (%.2fs)" % secs, rc == 0 and secs < 2.0,
          s.log()[-1000:])
    con.close()


def main():
    work = tempfile.mkdtemp(prefix="e2e_stream_%s_" % KIND)
    path = os.path.join(work, "scenario.json")
    with open(path, "w") as f:
        json.dump(SCENARIO, f)
    srv = Server(path)
    scanner = Scanner(srv) if KIND == "cdc" else None
    if scanner:
        scanner.start()
    try:
        scenario_stream(work, srv)
        if KIND == "cdc":
            scenario_restamp_retention(work, srv)
        scenario_restamp(work, srv)
        if scanner:
            scanner.stop.set()
            scanner.join()
            check("capture scans ran without error", scanner.error is None, scanner.error)
    finally:
        srv.stop()
    print("%s: %s" % (KIND, "FAILED (%d)" % fails if fails else "all passed"), flush=True)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
