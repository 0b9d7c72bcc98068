#!/usr/bin/python3
"""e2e_ct.py — Change Tracking sources end to end (run by e2e_ct.sh).

For each database destination (SQLite, DuckDB, PostgreSQL when
TDSPIPE_PG_URI is set, and SQL Server: a second build/tdstestd as the
destination) a fresh build/tdstestd runs the scenario below;
pytds changes the source tables between `tdspipe ingest` runs, and a model
of each source table (rows plus the version and operation of every change)
predicts the destination: row values, _cdc_lsn, _cdc_deleted, _cdc_op, and
the cursor in _tdspipe_state. Covered: snapshot; insert/update/delete;
update then delete; insert then delete (tombstone with only the key); no
changes (nothing rewritten, whole table compared); expired cursor (error,
then --ct-expired=resnapshot); tracking off for the database or the table;
no key; keys of int, bigint, uniqueidentifier, nvarchar and a composite
key; a connection dropped (and an error) in mid-load then a clean rerun;
CT_RANDOM_RUNS (default 100) runs of random changes. Once (SQLite): the flag
checks and the SNAPSHOT → SERIALIZABLE fallback.

    e2e_ct.py BUILD_DIR SRC_DIR
"""
import ctypes
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import pytds

BUILD, SRC = sys.argv[1], sys.argv[2]
TDSPIPE = os.path.join(BUILD, "tdspipe")
TDSTESTD = os.path.join(BUILD, "tdstestd")
PG_URI = os.environ.get("TDSPIPE_PG_URI", "")
DUCK_LIB = os.environ.get("TDSPIPE_DUCKDB_LIB") or os.path.expanduser("~/.cache/tdspipe/duckdb/libduckdb.so")
RANDOM_RUNS = int(os.environ.get("CT_RANDOM_RUNS", "100"))
PASSWORD = "Passw0rd!"

fails = 0
passes = 0


def ok(name):
    global passes
    passes += 1
    print("ok   " + name, flush=True)


def bad(name, detail=""):
    global fails
    fails += 1
    print("FAIL " + name, flush=True)
    if detail:
        print("     " + str(detail)[:3000], flush=True)


def same(name, got, want):
    if got == want:
        ok(name)
    else:
        bad(name, "got  %r\n     want %r" % (got, want))


# --------------------------------------------------------------- scenario

def col(name, typ, nullable=True):
    return {"name": name, "type": typ, "nullable": nullable}


def table(name, cols, pk, data, tracked=True):
    t = {"name": name, "columns": cols, "data": data}
    if pk:
        t["primary_key"] = pk
    if tracked:
        t["change_tracking"] = True
    return t


GUIDS = ["6F9619FF-8B86-D011-B42D-00C04FC964FF", "0E984725-C51C-4BF4-9960-E1C80E27ABA0",
         "A1B2C3D4-0000-4000-8000-000000000001", "A1B2C3D4-0000-4000-8000-000000000002",
         "A1B2C3D4-0000-4000-8000-000000000003"]

SCENARIO = {
    "server": {"name": "tdstestd"},
    "logins": [{"user": "sa", "password": PASSWORD, "database": "ctdb"}],
    "databases": [
        {"name": "ctdb", "snapshot_isolation": True,
         "change_tracking": {"enabled": True, "retention_days": 2, "auto_cleanup": True},
         "tables": [
             table("orders", [col("id", "int", False), col("customer", "nvarchar(50)"), col("amount", "decimal(10,2)")],
                   ["id"], [[1, "alice", "10.50"], [2, "bob", "20.00"], [3, "carol", "30.25"]]),
             table("k_big", [col("id", "bigint", False), col("v", "nvarchar(20)")], ["id"],
                   [["9000000000000000001", "a"], ["-5", "b"]]),
             table("k_guid", [col("id", "uniqueidentifier", False), col("v", "int")], ["id"],
                   [[GUIDS[0], 1], [GUIDS[1], 2]]),
             table("k_nv", [col("code", "nvarchar(20)", False), col("v", "int"), col("note", "nvarchar(max)")],
                   ["code"], [["alpha", 1, "a" * 5000], ["beta", 2, None], ["gämma", 3, "ü" * 9000]]),
             table("k_comp", [col("a", "int", False), col("b", "nvarchar(10)", False), col("v", "int")], ["a", "b"],
                   [[1, "x", 10], [1, "y", 11], [2, "x", 12]]),
             table("fault", [col("id", "int", False), col("v", "int")], ["id"], [[0, 0]]),
             table("rnd", [col("id", "int", False), col("a", "int"), col("s", "nvarchar(30)")], ["id"],
                   [[i, i * 10, "s%d" % i] for i in range(1, 21)]),
             table("untracked", [col("id", "int", False)], ["id"], [[1]], tracked=False),
             table("nokey", [col("v", "int")], None, [[1]], tracked=False),
         ]},
        {"name": "expdb", "snapshot_isolation": True,
         "change_tracking": {"enabled": True, "retention_days": 2, "auto_cleanup": True},
         "tables": [table("e", [col("id", "int", False), col("v", "int")], ["id"], [[1, 1], [2, 2]])]},
        {"name": "offdb", "snapshot_isolation": True,
         "tables": [table("off", [col("id", "int", False)], ["id"], [[1]], tracked=False)]},
        {"name": "nosnap", "snapshot_isolation": False,
         "change_tracking": {"enabled": True, "retention_days": 2, "auto_cleanup": True},
         "tables": [table("t", [col("id", "int", False), col("v", "int")], ["id"], [[1, 1]])]},
    ],
}

# per table: key columns and the other compared columns, with their kind
# (int, str, guid, dec) for literals and normalisation
SCHEMA = {
    "orders": ([("id", "int")], [("customer", "str"), ("amount", "dec")]),
    "k_big": ([("id", "int")], [("v", "str")]),
    "k_guid": ([("id", "guid")], [("v", "int")]),
    "k_nv": ([("code", "str")], [("v", "int"), ("note", "str")]),
    "k_comp": ([("a", "int"), ("b", "str")], [("v", "int")]),
    "fault": ([("id", "int")], [("v", "int")]),
    "rnd": ([("id", "int")], [("a", "int"), ("s", "str")]),
    "e": ([("id", "int")], [("v", "int")]),
    "t": ([("id", "int")], [("v", "int")]),
}


def norm(kind, v):
    if v is None:
        return None
    s = str(v)
    if kind == "guid":
        return s.lower()
    if kind == "dec":
        return "%.2f" % float(s)
    return s


def lit(kind, v):
    if v is None:
        return "NULL"
    if kind in ("int", "dec"):
        return str(v)
    return "N'" + str(v).replace("'", "''") + "'"


# ------------------------------------------------------------------ model

class Model:
    """A source table: rows now and every change (version, op) per key."""

    def __init__(self, name, db, rows):
        self.name, self.db = name, db
        self.keys, self.vals = SCHEMA[name]
        self.rows = {}
        for r in rows:
            k = tuple(norm(kd, r[i]) for i, (_, kd) in enumerate(self.keys))
            self.rows[k] = tuple(norm(kd, r[len(self.keys) + i]) for i, (_, kd) in enumerate(self.vals))
        self.hist = {}

    def where(self, k):
        return " AND ".join("[%s] = %s" % (c, lit(kd, k[i])) for i, (c, kd) in enumerate(self.keys))


class Dest:
    """What one destination table should hold, and its cursor."""

    def __init__(self, model):
        self.m = model
        self.rows = {}      # key -> (vals or None, lsn, deleted, op)
        self.cursor = None

    def sync(self, version, replace=False):
        m = self.m
        if self.cursor is None or replace:
            if replace:
                self.rows = {}
            for k, v in m.rows.items():
                self.rows[k] = (v, version, False, "I")
        else:
            for k, h in m.hist.items():
                win = [e for e in h if self.cursor < e[0] <= version]
                if not win:
                    continue
                lv = win[-1][0]
                if win[-1][1] == "D":
                    prev = self.rows.get(k)
                    self.rows[k] = (prev[0] if prev else None, lv, True, "D")
                else:
                    self.rows[k] = (m.rows[k], lv, False, "I" if win[0][1] == "I" else "U")
        self.cursor = version

    def expected(self):
        out = []
        for k, (v, lsn, dele, op) in self.rows.items():
            vals = v if v is not None else tuple(None for _ in self.m.vals)
            out.append(tuple(k) + tuple(vals) + ("%020d" % lsn, "1" if dele else "0", op))
        return sorted(out, key=lambda r: tuple("" if x is None else x for x in r))


# ------------------------------------------------------------- tdstestd

class Server:
    def __init__(self, scenario_path):
        # PR_SET_PDEATHSIG: the server goes when this script dies, even by a signal
        die = lambda: ctypes.CDLL("libc.so.6").prctl(1, 15)  # noqa: E731
        self.p = subprocess.Popen([TDSTESTD, "--scenario", scenario_path, "--port", "0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, preexec_fn=die)
        line = self.p.stdout.readline()
        if not line.startswith("port "):
            raise SystemExit("tdstestd did not start: %r" % line)
        self.port = int(line.split()[1])
        self.conns = {}

    def conn(self, db):
        if db not in self.conns:
            self.conns[db] = pytds.connect(server="127.0.0.1", port=self.port, user="sa", password=PASSWORD,
                                           database=db, autocommit=True)
        return self.conns[db]

    def execute(self, db, sql):
        cur = self.conn(db).cursor()
        cur.execute(sql)
        try:
            return cur.fetchall()
        except Exception:  # noqa: BLE001 - statements without a result
            return None

    def version(self, db):
        return int(self.execute(db, "SELECT CHANGE_TRACKING_CURRENT_VERSION()")[0][0])

    def uri(self, db, scheme="mssql+ct"):
        return "%s://sa:Passw0rd%%21@127.0.0.1:%d/%s?encrypt=disable" % (scheme, self.port, db)

    def stop(self):
        for c in self.conns.values():
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        self.p.terminate()
        self.p.wait()


class Source:
    """Changes through pytds, mirrored in the models."""

    def __init__(self, srv):
        self.srv = srv
        self.models = {}
        for d in SCENARIO["databases"]:
            for t in d["tables"]:
                if t["name"] in SCHEMA:
                    self.models[(d["name"], t["name"])] = Model(t["name"], d["name"], t["data"])
        self.pending = None  # open transaction: list of (model, key, op)

    def m(self, name, db="ctdb"):
        return self.models[(db, name)]

    def _record(self, m, k, op):
        if self.pending is not None:
            self.pending.append((m, k, op))
            return
        v = self.srv.version(m.db)
        m.hist.setdefault(k, []).append((v, op))

    def insert(self, m, k, vals):
        cols = [c for c, _ in m.keys] + [c for c, _ in m.vals]
        lits = [lit(kd, k[i]) for i, (_, kd) in enumerate(m.keys)] + \
               [lit(kd, vals[i]) for i, (_, kd) in enumerate(m.vals)]
        self.srv.execute(m.db, "INSERT INTO %s (%s) VALUES (%s)" % (m.name, ", ".join("[%s]" % c for c in cols),
                                                                    ", ".join(lits)))
        m.rows[k] = tuple(norm(kd, vals[i]) for i, (_, kd) in enumerate(m.vals))
        self._record(m, k, "I")

    def update(self, m, k, vals):
        sets = ", ".join("[%s] = %s" % (c, lit(kd, vals[i])) for i, (c, kd) in enumerate(m.vals))
        self.srv.execute(m.db, "UPDATE %s SET %s WHERE %s" % (m.name, sets, m.where(k)))
        m.rows[k] = tuple(norm(kd, vals[i]) for i, (_, kd) in enumerate(m.vals))
        self._record(m, k, "U")

    def delete(self, m, k):
        self.srv.execute(m.db, "DELETE FROM %s WHERE %s" % (m.name, m.where(k)))
        del m.rows[k]
        self._record(m, k, "D")

    def update_range(self, m, lo, hi, s):
        """One statement changing several rows (rnd: s of ids lo..hi)."""
        self.srv.execute(m.db, "UPDATE %s SET [s] = %s WHERE [id] BETWEEN %d AND %d" % (m.name, lit("str", s), lo, hi))
        hit = [k for k in m.rows if lo <= int(k[0]) <= hi]
        for k in hit:
            m.rows[k] = (m.rows[k][0], s)
            self._record(m, k, "U")
        return hit

    def begin(self, db):
        self.srv.execute(db, "BEGIN TRANSACTION")
        self.pending = []
        self.snap = {key: (dict(mm.rows), {k: list(h) for k, h in mm.hist.items()}) for key, mm in self.models.items()}

    def commit(self, db):
        self.srv.execute(db, "COMMIT TRANSACTION")
        pend, self.pending = self.pending, None
        if pend:
            v = self.srv.version(db)
            for m, k, op in pend:
                m.hist.setdefault(k, []).append((v, op))

    def rollback(self, db):
        self.srv.execute(db, "ROLLBACK TRANSACTION")
        self.pending = None
        for key, (rows, hist) in self.snap.items():
            self.models[key].rows, self.models[key].hist = rows, hist


# ---------------------------------------------------------- destinations

class DuckLib:
    lib = None

    @classmethod
    def get(cls):
        if cls.lib is None:
            lib = ctypes.CDLL(DUCK_LIB)
            lib.duckdb_row_count.restype = ctypes.c_uint64
            lib.duckdb_column_count.restype = ctypes.c_uint64
            lib.duckdb_value_varchar.restype = ctypes.c_void_p
            lib.duckdb_value_is_null.restype = ctypes.c_bool
            lib.duckdb_result_error.restype = ctypes.c_char_p
            cls.lib = lib
        return cls.lib


class Sink:
    def __init__(self, kind, work):
        self.kind, self.work = kind, work
        if kind == "sqlite":
            self.path = os.path.join(work, "ct.db")
            self.uri = "sqlite:///" + self.path
        elif kind == "duckdb":
            self.path = os.path.join(work, "ct.duckdb")
            self.uri = "duckdb:///" + self.path
        elif kind == "mssql":
            self.srv = None
            self.scen = os.path.join(work, "dest.json")
            with open(self.scen, "w") as f:
                json.dump({"server": {"name": "tdstestd"},
                           "logins": [{"user": "sa", "password": PASSWORD, "database": "dest"}],
                           "databases": [{"name": "dest", "tables": []}]}, f)
        else:
            self.uri = PG_URI

    def close(self):
        if self.kind == "mssql" and self.srv:
            self.srv.stop()
            self.srv = None

    def reset(self):
        if self.kind == "mssql":
            # a fresh destination server: nothing left from an earlier kind
            self.close()
            self.srv = Server(self.scen)
            self.uri = self.srv.uri("dest", "mssql")
        elif self.kind in ("sqlite", "duckdb"):
            for f in os.listdir(self.work):
                if f.startswith(os.path.basename(self.path)):
                    os.unlink(os.path.join(self.work, f))
        else:
            self.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public", raw=True)

    def query(self, sql, raw=False):
        """Rows as tuples of text (None for NULL); None when the table is missing."""
        if self.kind == "mssql":
            try:
                rows = self.srv.execute("dest", sql)
            except pytds.ProgrammingError as e:
                if "Invalid object name" in str(e):
                    return None
                raise
            txt = lambda v: None if v is None else ("1" if v else "0") if isinstance(v, bool) else str(v)  # noqa: E731
            return [tuple(txt(v) for v in r) for r in rows or []]
        if self.kind == "sqlite":
            if not os.path.exists(self.path):
                return None
            c = sqlite3.connect(self.path)
            try:
                rows = c.execute(sql).fetchall()
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    return None
                raise
            finally:
                c.close()
            return [tuple(None if v is None else str(v) for v in r) for r in rows]
        if self.kind == "pg":
            p = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\x1f", "-P", "null=\x01NULL", "-v", "ON_ERROR_STOP=1",
                                "-d", PG_URI, "-c", sql], capture_output=True, text=True)
            if p.returncode:
                if "does not exist" in p.stderr:
                    return None
                raise RuntimeError(p.stderr)
            if raw:
                return []
            out = []
            for line in p.stdout.split("\n"):
                if line == "":
                    continue
                out.append(tuple(None if v == "\x01NULL" else v for v in line.split("\x1f")))
            return out
        lib = DuckLib.get()
        if not os.path.exists(self.path):
            return None
        db, con = ctypes.c_void_p(), ctypes.c_void_p()
        res = (ctypes.c_byte * 128)()
        assert lib.duckdb_open(self.path.encode(), ctypes.byref(db)) == 0
        assert lib.duckdb_connect(db, ctypes.byref(con)) == 0
        try:
            if lib.duckdb_query(con, sql.encode(), ctypes.byref(res)) != 0:
                msg = lib.duckdb_result_error(ctypes.byref(res)) or b""
                lib.duckdb_destroy_result(ctypes.byref(res))
                if b"does not exist" in msg:
                    return None
                raise RuntimeError(msg.decode())
            out = []
            for r in range(lib.duckdb_row_count(ctypes.byref(res))):
                row = []
                for c in range(lib.duckdb_column_count(ctypes.byref(res))):
                    if lib.duckdb_value_is_null(ctypes.byref(res), ctypes.c_uint64(c), ctypes.c_uint64(r)):
                        row.append(None)
                        continue
                    p = lib.duckdb_value_varchar(ctypes.byref(res), ctypes.c_uint64(c), ctypes.c_uint64(r))
                    if not p:
                        raise RuntimeError("duckdb_value_varchar gave no text for column %d of %r" % (c, sql))
                    row.append(ctypes.string_at(p).decode())
                    lib.duckdb_free(ctypes.c_void_p(p))
                out.append(tuple(row))
            lib.duckdb_destroy_result(ctypes.byref(res))
            return out
        finally:
            lib.duckdb_disconnect(ctypes.byref(con))
            lib.duckdb_close(ctypes.byref(db))

    def rows(self, m, dest):
        cols = [c for c, _ in m.keys] + [c for c, _ in m.vals] + ["_cdc_lsn", "_cdc_deleted", "_cdc_op"]
        cast = '"%s"' if self.kind == "mssql" else 'CAST("%s" AS VARCHAR)'  # pytds gives typed values
        r = self.query("SELECT %s FROM %s" % (", ".join(cast % c for c in cols), dest))
        if r is None:
            return None
        kinds = [kd for _, kd in m.keys] + [kd for _, kd in m.vals]
        out = []
        for row in r:
            vals = [norm(kinds[i], row[i]) for i in range(len(kinds))]
            d = row[len(kinds) + 1]
            d = {"t": "1", "true": "1", "1": "1", "f": "0", "false": "0", "0": "0"}.get(str(d).lower(), d)
            out.append(tuple(vals) + (row[len(kinds)], d, row[len(kinds) + 2]))
        return sorted(out, key=lambda x: tuple("" if v is None else v for v in x))

    def dump(self, dest):
        """Everything: every column of every row (load times included), and the state table."""
        # DuckDB's C API prints no TIMESTAMPTZ by itself: cast every column
        r = self.query("SELECT %s FROM %s" % ("COLUMNS(*)::VARCHAR" if self.kind == "duckdb" else "*", dest))
        s = self.query('SELECT "name", "value" FROM "_tdspipe_state"')
        key = lambda x: tuple("" if v is None else v for v in x)  # noqa: E731
        return (None if r is None else sorted(r, key=key), None if s is None else sorted(s, key=key))

    def state(self, name):
        r = self.query("SELECT \"value\" FROM \"_tdspipe_state\" WHERE \"name\" = '%s'" % name.replace("'", "''"))
        return r[0][0] if r else None


# --------------------------------------------------------------- runner

class Run:
    def __init__(self, srv, src, sink):
        self.srv, self.src, self.sink = srv, src, sink
        self.dests = {}

    def tdspipe(self, *args):
        p = subprocess.run([TDSPIPE, "ingest", "--progress", "log"] + list(args), capture_output=True, text=True)
        return p.returncode, p.stderr.strip()

    def ingest(self, m, extra=(), uri_db=None):
        dest = "t_" + m.name
        return self.tdspipe("--source-uri", self.srv.uri(uri_db or m.db), "--source-table",
                            "%s.dbo.%s" % (m.db, m.name), "--dest-uri", self.sink.uri, "--dest-table", dest, *extra)

    def dest(self, m):
        key = (m.db, m.name)
        if key not in self.dests:
            self.dests[key] = Dest(m)
        return self.dests[key]

    def sync(self, label, m, extra=(), replace=False, quiet=True):
        """A run that must succeed; then the destination must match the model."""
        v = self.srv.version(m.db)
        rc, err = self.ingest(m, extra)
        if rc != 0:
            bad("%s %s: exit %d" % (self.sink.kind, label, rc), err)
            return False
        d = self.dest(m)
        d.sync(v, replace)
        return self.check(label, m, quiet)

    def check(self, label, m, quiet=False):
        d = self.dest(m)
        got = self.sink.rows(m, "t_" + m.name)
        want = d.expected()
        st = self.sink.state("ct:%s.dbo.%s:t_%s" % (m.db, m.name, m.name))
        good = got == want and st == "%020d" % d.cursor
        if good:
            if not quiet:
                ok("%s %s" % (self.sink.kind, label))
            return True
        if got != want:
            bad("%s %s: rows" % (self.sink.kind, label), "got  %r\n     want %r" % (got, want))
        else:
            bad("%s %s: cursor" % (self.sink.kind, label), "got %r want %020d" % (st, d.cursor))
        return False

    def fail(self, label, m, want_rc, needle, extra=(), uri_db=None):
        """A run that must fail with one line naming the problem and change nothing."""
        before = self.sink.dump("t_" + m.name)
        rc, err = self.ingest(m, extra, uri_db)
        if rc == want_rc and needle in err and "\n" not in err:
            ok("%s %s (exit %d)" % (self.sink.kind, label, rc))
        else:
            bad("%s %s: exit %d, wanted %d with %r" % (self.sink.kind, label, rc, want_rc, needle), err)
        same("%s %s: destination unchanged" % (self.sink.kind, label), self.sink.dump("t_" + m.name), before)
        return err


def scripted(r):
    """The named cases for one destination."""
    src, srv = r.src, r.srv
    o = src.m("orders")
    r.sync("snapshot", o, quiet=False)
    same("%s snapshot lsn is the version, 20 digits" % r.sink.kind,
         sorted({x[-3] for x in r.sink.rows(o, "t_orders")}), ["%020d" % srv.version("ctdb")])

    before = r.sink.dump("t_orders")
    r.sync("no changes", o, quiet=False)
    same("%s no changes: nothing rewritten (all columns, state)" % r.sink.kind, r.sink.dump("t_orders"), before)

    src.insert(o, ("4",), ("dave", "4.00"))
    src.update(o, ("1",), ("alice", "11.00"))
    src.delete(o, ("2",))
    r.sync("insert, update, delete", o, quiet=False)
    got = {x[0]: x for x in r.sink.rows(o, "t_orders")}
    same("%s delete keeps the row's values" % r.sink.kind, got["2"][1:3] + got["2"][4:], ("bob", "20.00", "1", "D"))
    same("%s ops I and U" % r.sink.kind, (got["4"][-1], got["1"][-1]), ("I", "U"))

    src.update(o, ("3",), ("carol2", "99.00"))
    src.delete(o, ("3",))
    r.sync("update then delete", o, quiet=False)
    got = {x[0]: x for x in r.sink.rows(o, "t_orders")}
    same("%s update then delete: last synced values, deleted" % r.sink.kind, got["3"][1:3] + got["3"][4:],
         ("carol", "30.25", "1", "D"))

    src.insert(o, ("10",), ("zed", "1.00"))
    src.delete(o, ("10",))
    r.sync("insert then delete", o, quiet=False)
    got = {x[0]: x for x in r.sink.rows(o, "t_orders")}
    same("%s insert then delete: tombstone with only the key" % r.sink.kind, got.get("10", ())[1:3] + got.get("10", ())[4:],
         (None, None, "1", "D"))

    src.insert(o, ("2",), ("bob again", "2.00"))
    r.sync("delete then re-insert", o, quiet=False)

    before = r.sink.dump("t_orders")
    r.sync("no changes after changes", o)
    same("%s no changes again: nothing rewritten" % r.sink.kind, r.sink.dump("t_orders"), before)

    # other key types and a composite key
    for name, changes in [
        ("k_big", [("i", ("-9000000000000000000",), ("n",)), ("u", ("9000000000000000001",), ("a2",)), ("d", ("-5",))]),
        ("k_guid", [("i", (GUIDS[2],), (3,)), ("u", (GUIDS[0],), (100,)), ("d", (GUIDS[1],)), ("i", (GUIDS[3],), (4,)),
                    ("d", (GUIDS[3],))]),
        # a (max) column: values stream in chunks through the adapter
        ("k_nv", [("i", ("délta",), (4, "d" * 70000)), ("u", ("gämma",), (30, "g\u00e4" * 10000)), ("d", ("alpha",)),
                  ("i", ("it's",), (5, None)), ("u", ("beta",), (6, ""))]),
        ("k_comp", [("i", ("1", "z"), (13,)), ("u", ("1", "x"), (100,)), ("d", ("1", "y")), ("i", ("2", "y"), (14,)),
                    ("d", ("2", "y"))]),
    ]:
        m = src.m(name)
        r.sync(name + " snapshot", m, quiet=False)
        for ch in changes:
            k = tuple(norm(kd, ch[1][i]) for i, (_, kd) in enumerate(m.keys))
            if ch[0] == "i":
                src.insert(m, k, ch[2])
            elif ch[0] == "u":
                src.update(m, k, ch[2])
            else:
                src.delete(m, k)
        r.sync(name + " changes", m, quiet=False)

    # a connection dropped (then an error) in mid-load, then a clean rerun
    f = src.m("fault")
    r.sync("fault table snapshot", f)
    for i in range(1, 31):
        src.insert(f, (str(i),), (i,))
    src.update(f, ("0",), (5,))
    for fault in ("close_after_rows", "error_after_rows"):
        srv.execute("ctdb", "EXEC tdstestd_fault @%s = 10, @for_new_connections = 1" % fault)
        r.fail("%s in mid-load" % fault, f, 1, "")
        srv.execute("ctdb", "EXEC tdstestd_fault @clear = 1, @for_new_connections = 1")
    r.sync("rerun after the faults: every change exactly once", f, quiet=False)
    same("%s rerun: 31 rows" % r.sink.kind, len(r.sink.rows(f, "t_fault")), 31)

    # an expired cursor: an error, then --ct-expired=resnapshot
    e = src.m("e", "expdb")
    r.sync("expdb snapshot", e)
    src.insert(e, ("3",), (3,))
    src.delete(e, ("1",))
    src.update(e, ("2",), (20,))
    srv.execute("expdb", "EXEC tdstestd_ct_cleanup @min_valid = %d" % srv.version("expdb"))
    err = r.fail("expired cursor", e, 1, "--full-refresh")
    same("%s expired cursor message names resnapshot" % r.sink.kind, "--ct-expired=resnapshot" in err, True)
    r.sync("--ct-expired=resnapshot", e, extra=("--ct-expired=resnapshot",), replace=True, quiet=False)
    src.insert(e, ("4",), (4,))
    r.sync("changes after resnapshot", e, quiet=False)
    src.update(e, ("4",), (44,))
    r.sync("--full-refresh", e, extra=("--full-refresh",), replace=True, quiet=False)
    # TRUNCATE TABLE drops the change log: the cursor expires
    src.insert(e, ("5",), (5,))
    r.sync("before truncate", e)
    srv.execute("expdb", "TRUNCATE TABLE e")
    e.rows, e.hist = {}, {}
    r.fail("cursor after TRUNCATE TABLE", e, 1, "--full-refresh")
    r.sync("resnapshot after TRUNCATE TABLE", e, extra=("--ct-expired", "resnapshot"), replace=True, quiet=False)
    src.insert(e, ("6",), (6,))
    r.sync("changes after truncate", e, quiet=False)

    # tracking off, no key
    r.fail("tracking off for the database", _named("off", "offdb"), 1, "not enabled for database")
    r.fail("tracking off for the table", _named("untracked"), 1, "not enabled for table")
    r.fail("no primary key", _named("nokey"), 2, "primary key")


def _named(name, db="ctdb"):
    """A table outside SCHEMA, for runs that must fail before reading."""
    m = Model.__new__(Model)
    m.name, m.db, m.keys, m.vals, m.rows, m.hist = name, db, [("id", "int")], [], {}, {}
    return m


def random_runs(r, n, seed):
    rng = random.Random(seed)
    src = r.src
    m = src.m("rnd")
    r.sync("random: snapshot", m)
    good = 0
    for run in range(n):
        nops = rng.choice([0, 1, 2, 3, 5, 8])
        tran = rng.random() < 0.15 and nops > 0
        roll = tran and rng.random() < 0.3
        if tran:
            src.begin("ctdb")
        for _ in range(nops):
            live = sorted(m.rows, key=lambda k: int(k[0]))
            free = [str(i) for i in range(1, 61) if (str(i),) not in m.rows]
            op = rng.random()
            if (op < 0.3 or not live) and free:
                k = (rng.choice(free),)
                src.insert(m, k, (rng.randint(-1000, 1000), "n%d" % rng.randint(0, 999)))
            elif op < 0.6 and live:
                src.update(m, rng.choice(live), (rng.randint(-1000, 1000), "u%d" % rng.randint(0, 999)))
            elif op < 0.8 and live:
                src.delete(m, rng.choice(live))
            elif op < 0.9 and live:
                k = rng.choice(live)
                lo = int(k[0])
                src.update_range(m, lo, lo + rng.randint(0, 5), "r%d" % run)
            elif free:
                k = (rng.choice(free),)  # insert then delete, or update then delete
                src.insert(m, k, (1, "gone"))
                src.delete(m, k)
        if tran:
            if roll:
                src.rollback("ctdb")
            else:
                src.commit("ctdb")
        if r.sync("random run %d" % run, m):
            good += 1
        else:
            break
    same("%s random: %d runs match the model" % (r.sink.kind, n), good, n)


def checks_once(srv, work):
    """Flag checks and the snapshot-isolation fallback (one destination)."""
    base = ["--source-uri", srv.uri("ctdb"), "--source-table", "dbo.orders", "--progress", "log"]
    newdb = os.path.join(work, "never.db")

    def t(label, want, needle, *extra, dest=None):
        p = subprocess.run([TDSPIPE, "ingest"] + base + ["--dest-uri", dest or "sqlite:///" + newdb] + list(extra),
                           capture_output=True, text=True)
        err = p.stderr.strip()
        if p.returncode == want and needle in err and "\n" not in err:
            ok("check %s (exit %d)" % (label, want))
        else:
            bad("check %s: exit %d, wanted %d with %r" % (label, p.returncode, want, needle), err)
        same("check %s: no destination file" % label, os.path.exists(newdb), False)

    t("--sql-limit", 2, "--sql-limit", "--sql-limit", "5")
    t("strategy append", 2, "needs --full-refresh", "--incremental-strategy", "append")
    t("strategy replace", 2, "needs --full-refresh", "--incremental-strategy", "replace")
    t("exclude key", 2, "key column 'id'", "--sql-exclude-columns", "id")
    t("exclude _cdc_lsn", 2, "'_cdc_lsn'", "--sql-exclude-columns", "_cdc_lsn")
    t("incremental key", 2, "do not apply", "--incremental-key", "id")
    t("csv destination", 2, "database destination", dest="csv://" + os.path.join(work, "x.csv"))
    t("bad --ct-expired", 2, "--ct-expired", "--ct-expired", "later")
    t("--primary-key not the table's", 2, "--primary-key", "--primary-key", "customer")
    p = subprocess.run([TDSPIPE, "ingest", "--source-uri", srv.uri("ctdb"), "--source-table", "query:SELECT 1 AS x",
                        "--dest-table", "x", "--dest-uri", "sqlite:///" + newdb], capture_output=True, text=True)
    same("check query source refused", (p.returncode, "query" in p.stderr), (2, True))
    # the other schemes, and an explicit strategy allowed with --full-refresh
    for i, scheme in enumerate(["sqlserver+ct", "azuresql+ct", "azure-sql+ct"]):
        db = os.path.join(work, "s%d.db" % i)
        p = subprocess.run([TDSPIPE, "ingest", "--source-uri", srv.uri("ctdb", scheme), "--source-table", "dbo.orders",
                            "--dest-uri", "sqlite:///" + db, "--progress", "log"] +
                           (["--incremental-strategy", "append", "--full-refresh"] if i == 0 else []),
                           capture_output=True, text=True)
        c = sqlite3.connect(db) if os.path.exists(db) else None
        n = c.execute("select count(*), min(_cdc_op) from orders").fetchone() if c else None
        same("check scheme %s loads" % scheme, (p.returncode, n), (0, (3, "I")))
    # a destination table loaded without Change Tracking: no cursor, no _cdc_lsn
    plain = os.path.join(work, "plain.db")
    args = ["--source-table", "dbo.orders", "--dest-uri", "sqlite:///" + plain, "--progress", "log"]
    p = subprocess.run([TDSPIPE, "ingest", "--source-uri", srv.uri("ctdb", "mssql")] + args, capture_output=True, text=True)
    same("check plain load for the next check", p.returncode, 0)
    p = subprocess.run([TDSPIPE, "ingest", "--source-uri", srv.uri("ctdb")] + args, capture_output=True, text=True)
    same("check table without _cdc_lsn or state: exit 1, asks for --full-refresh",
         (p.returncode, "--full-refresh" in p.stderr, p.stderr.count("\n")), (1, True, 1))
    p = subprocess.run([TDSPIPE, "ingest", "--source-uri", srv.uri("ctdb"), "--full-refresh"] + args,
                       capture_output=True, text=True)
    c = sqlite3.connect(plain)
    n = c.execute("select count(*), count(_cdc_lsn) from orders").fetchone()
    c.close()
    same("check then --full-refresh loads it", (p.returncode, n), (0, (3, 3)))
    # snapshot isolation off: SERIALIZABLE with a warning
    db = os.path.join(work, "nosnap.db")
    p = subprocess.run([TDSPIPE, "ingest", "--source-uri", srv.uri("nosnap"), "--source-table", "dbo.t",
                        "--dest-uri", "sqlite:///" + db, "--progress", "log"], capture_output=True, text=True)
    same("check snapshot isolation off: loads", p.returncode, 0)
    same("check snapshot isolation off: warns", "SERIALIZABLE" in p.stderr, True)
    # a table loaded by ingestr (no state row): resume from MAX(_cdc_lsn)
    c = sqlite3.connect(db)
    c.execute('DELETE FROM "_tdspipe_state"')
    c.commit()
    c.close()
    srv.execute("nosnap", "INSERT INTO t VALUES (2, 2)")
    v = srv.version("nosnap")
    p = subprocess.run([TDSPIPE, "ingest", "--source-uri", srv.uri("nosnap"), "--source-table", "dbo.t",
                        "--dest-uri", "sqlite:///" + db, "--progress", "log"], capture_output=True, text=True)
    c = sqlite3.connect(db)
    rows = c.execute("select id, _cdc_lsn, _cdc_op from t order by id").fetchall()
    st = c.execute('select value from "_tdspipe_state"').fetchall()
    c.close()
    same("check resume from MAX(_cdc_lsn)", (p.returncode, rows, st),
         (0, [(1, "%020d" % 0, "I"), (2, "%020d" % v, "I")], [("%020d" % v,)]))
    # the state row kept but the destination table dropped: a snapshot again,
    # not just the changes after the cursor
    c = sqlite3.connect(db)
    c.execute("DROP TABLE t")
    c.commit()
    c.close()
    p = subprocess.run([TDSPIPE, "ingest", "--source-uri", srv.uri("nosnap"), "--source-table", "dbo.t",
                        "--dest-uri", "sqlite:///" + db, "--progress", "log"], capture_output=True, text=True)
    c = sqlite3.connect(db)
    rows = c.execute("select id, _cdc_lsn from t order by id").fetchall()
    c.close()
    same("check dropped destination table is reloaded whole", (p.returncode, rows),
         (0, [(1, "%020d" % v), (2, "%020d" % v)]))


def main():
    work = tempfile.mkdtemp(prefix="tdspipe-ct.")
    try:
        scen = os.path.join(work, "ct.json")
        with open(scen, "w") as f:
            json.dump(SCENARIO, f)
        kinds = ["sqlite"]
        if os.path.exists(DUCK_LIB):
            kinds.append("duckdb")
        else:
            print("skip DuckDB: no %s" % DUCK_LIB)
        if PG_URI:
            kinds.append("pg")
        else:
            print("skip PostgreSQL: TDSPIPE_PG_URI not set")
        kinds.append("mssql")
        for i, kind in enumerate(kinds):
            srv = Server(scen)
            sink = None
            try:
                sink = Sink(kind, work)
                sink.reset()
                r = Run(srv, Source(srv), sink)
                if kind == "sqlite":
                    checks_once(srv, work)
                scripted(r)
                random_runs(r, RANDOM_RUNS, 1000 + i)
            finally:
                srv.stop()
                if sink:
                    sink.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passes, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
