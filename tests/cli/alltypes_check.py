#!/usr/bin/python3
"""alltypes_check.py SCENARIO TABLE SINK TARGET [DDB_QUERY]

Reads a table back from a real destination after `tdspipe ingest` and
compares every value of every column with what the tdstestd scenario
defines: the generated rows (computed here from the generator rules in
tests/server/README.md, "Generated values", independently of the server's
C code) and the explicit "data" rows. Exit 0 when all match, else 1 with
one line per mismatch (values cut short).

SINK/TARGET: csv FILE[.gz] | jsonl FILE[.gz] | sqlite FILE |
duckdb FILE (read through build/ddb_query, i.e. libduckdb) |
postgresql URI (read through psql).

What each destination is expected to hold (docs/types.md):
  - CSV, JSONL and SQLite text: the canonical text forms of issue 5 exactly
    (date, time/datetime2 with the column's scale, datetimeoffset with its
    offset, decimals and money with their scale, GUID upper case).
  - floats: the same double (real: the same float), whatever the spelling.
  - PostgreSQL and DuckDB: the same value in the destination's type;
    times rounded half up to microseconds where the type holds µs (PG
    everywhere; DuckDB TIMESTAMP/TIMESTAMPTZ; DuckDB keeps time(7) in
    TIME_NS and datetime2(7) in TIMESTAMP_NS unless a value is outside its
    range, when the column is TIMESTAMP), datetimeoffset as the UTC instant.
  - datetime (1/300 s) everywhere as the millisecond SQL Server shows.
"""
import base64
import csv
import datetime
import decimal
import gzip
import io
import json
import re
import sqlite3
import struct
import subprocess
import sys

decimal.getcontext().prec = 80
TICKS_DAY = 864_000_000_000
TICKS_STEP = 37231234567  # 1 h 2 min 3.1234567 s
DAYS_2020 = 737424        # 2020-01-01 as days since 0001-01-01


def wrap(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def cmod(a, m):  # C remainder (sign of the dividend)
    r = abs(a) % abs(m)
    return -r if a < 0 else r


def pmod(a, m):
    return a % m


class Col:
    def __init__(self, c):
        self.name = c["name"]
        self.type = c["type"].lower()
        self.base = self.type.split("(")[0].strip()
        m = re.search(r"\(([^)]*)\)", self.type)
        args = m.group(1).split(",") if m else []
        self.max = bool(args) and args[0].strip() == "max"
        self.n = int(args[0]) if args and not self.max else None
        self.scale = int(args[1]) if len(args) > 1 else 0
        if self.base in ("time", "datetime2", "datetimeoffset"):
            self.scale = self.n if self.n is not None else 7
        self.gen = c.get("gen", {})
        self.nullable = c.get("nullable", True)


# ------------------------------------------------------ canonical values

def fmt_dt(days, ticks, scale, with_date=True, with_time=True):
    d = datetime.date(1, 1, 1) + datetime.timedelta(days=days)
    s = ticks // 10_000_000
    out = []
    if with_date:
        out.append("%04d-%02d-%02d" % (d.year, d.month, d.day))
    if with_time:
        t = "%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)
        if scale:
            t += "." + ("%07d" % (ticks % 10_000_000))[:scale]
        out.append(t)
    return " ".join(out)


def round_ticks(days, ticks, unit):
    t = (ticks + unit // 2) // unit * unit
    return days + t // TICKS_DAY, t % TICKS_DAY


def dt_ms(days, ticks):
    """datetime as shown: 1/300 s rounded half up to the millisecond."""
    n300 = (ticks * 3 + 50000) // 100000
    if n300 >= 25920000:
        n300 -= 25920000
        days += 1
    ms = (n300 * 20 + 3) // 6
    return days, ms * 10000


DT_RE = re.compile(r"^(-?\d{1,6}-\d{2}-\d{2})?[ T]?(\d{2}:\d{2}:\d{2})?(?:\.(\d+))?"
                   r"\s*(?:([+-]\d{2})(?::?(\d{2}))?)?$")


def parse_dt(s):
    """-> (days, ticks, offset minutes or None); years up to 6 digits."""
    m = DT_RE.match(s.strip())
    if not m:
        raise ValueError("bad date/time %r" % s)
    d, t, frac, oh, om = m.groups()
    days = 0
    if d:
        y, mo, dd = (int(x) for x in d.split("-"))
        extra = 0
        while y > 9999:  # 10000-01-01: after rounding 9999-12-31 23:59:59.9999999 up
            y -= 400
            extra += 146097
        days = (datetime.date(y, mo, dd) - datetime.date(1, 1, 1)).days + extra
    ticks = 0
    if t:
        hh, mm, ss = (int(x) for x in t.split(":"))
        ticks = ((hh * 60 + mm) * 60 + ss) * 10_000_000
    if frac:
        ticks += int((frac + "0000000")[:7])
    off = None
    if oh is not None:
        sign = -1 if oh.startswith("-") else 1
        off = sign * (abs(int(oh)) * 60 + int(om or 0))
    return days, ticks, off


def gen_time(x, unit):
    t = pmod(x, 100000) * TICKS_STEP
    if unit > 1:
        t = (t + unit // 2) // unit * unit
    return DAYS_2020 + t // TICKS_DAY, t % TICKS_DAY


def gen_text(col, x, width):
    pre = col.gen.get("prefix", col.name[:60] + "-")
    b = (pre + str(x)).encode()
    out = bytearray(b)
    while len(out) < width:
        out.append(ord("a") + len(out) % 26)
    return out.decode()


def fit_text(col, s, gen=False):
    """cut to the declared length and pad char/nchar with blanks; the
    generator sends non-ASCII in varchar as '?' (explicit data: code page
    1252)."""
    wide = col.base in ("nchar", "nvarchar", "ntext", "xml")
    if not wide and gen:
        s = "".join(ch if ord(ch) < 0x80 else "?" for ch in s)
    if col.n is not None:
        if wide:  # UTF-16 code units
            u = s.encode("utf-16-le")[:2 * col.n]
            s = u.decode("utf-16-le", errors="ignore")
        else:
            s = s[:col.n]
        if col.base in ("char", "nchar"):
            s += " " * (col.n - len(s.encode("utf-16-le")) // 2 if wide else col.n - len(s))
    return s


def generated(col, i):
    """The canonical value of row i (0-based) of a generated column."""
    g = col.gen
    ne = g.get("null_every", 0)
    if col.nullable and ne and i % ne == ne - 1:
        return None
    start, step, mod = g.get("start", 1), g.get("step", 1), g.get("modulo", 0)
    if mod > 0:
        r = ((i * step) % (1 << 64)) % mod if step >= 0 else cmod(i * step, mod)
        x = wrap(start + r, 64)
    else:
        x = wrap(start + i * step, 64)
    b = col.base
    if b == "bit":
        return x & 1 == 1
    if b == "tinyint":
        return x & 0xFF
    if b == "smallint":
        return wrap(x, 16)
    if b == "int":
        return wrap(x, 32)
    if b == "bigint":
        return x
    if b == "real":
        return struct.unpack("<f", struct.pack("<f", x / 4.0))[0]
    if b == "float":
        return x / 4.0
    if b == "smallmoney":
        return decimal.Decimal(wrap(x * 100, 32)).scaleb(-4)
    if b == "money":
        return decimal.Decimal(wrap(x * 100, 64)).scaleb(-4)
    if b in ("decimal", "numeric"):
        p = min(col.n or 18, 18)
        return decimal.Decimal(cmod(x, 10 ** p)).scaleb(-col.scale)
    if b == "date":
        return (DAYS_2020 + pmod(x, 36500), 0, None)
    if b == "smalldatetime":
        d, t = gen_time(x, 600000000)
        return (d, t, None)
    if b == "datetime":
        d, t = gen_time(x, 1)
        d, t = dt_ms(d, t)
        return (d, t, None)
    if b in ("time", "datetime2", "datetimeoffset"):
        d, t = gen_time(x, 10 ** (7 - col.scale))
        off = (pmod(x, 57) - 28) * 30 if b == "datetimeoffset" else None
        return (d if b != "time" else 0, t, off)
    if b == "uniqueidentifier":
        u = x & ((1 << 64) - 1)
        return "%08X-%04X-4%03X-8000-%012X" % (u & 0xFFFFFFFF, (u >> 32) & 0xFFFF, (u >> 48) & 0xFFF,
                                             u & 0xFFFFFFFFFFFF)
    if b in ("char", "varchar", "nchar", "nvarchar", "text", "ntext"):
        return fit_text(col, gen_text(col, x, g.get("width", 0)), True)
    if b == "xml":
        return '<r i="%d"/>' % x
    if b in ("binary", "varbinary", "image"):
        n = g.get("width") or (col.n if b == "binary" else col.n if col.n and col.n < 8 else 8)
        if col.n and n > col.n:
            n = col.n
        return bytes((x + k) & 0xFF for k in range(n))
    if b == "sql_variant":
        sel = pmod(x, 3)
        if sel == 0:
            return wrap(x, 32)
        if sel == 2:
            return x / 4.0
        return gen_text(col, x, 0)
    raise ValueError("no generator for " + col.type)


def from_data(col, v):
    """An explicit scenario value in the same canonical form."""
    if v is None:
        return None
    b = col.base
    if b == "bit":
        return bool(int(v)) if not isinstance(v, bool) else v
    if b in ("tinyint", "smallint", "int", "bigint"):
        return int(v)
    if b == "real":
        return struct.unpack("<f", struct.pack("<f", float(v)))[0]
    if b == "float":
        return float(v)
    if b in ("smallmoney", "money", "decimal", "numeric"):
        sc = 4 if "money" in b else col.scale
        return decimal.Decimal(str(v)).quantize(decimal.Decimal(1).scaleb(-sc))
    if b in ("date", "smalldatetime", "datetime", "time", "datetime2", "datetimeoffset"):
        d, t, off = parse_dt(str(v))
        if b == "datetime":
            d, t = dt_ms(d, t) if len(str(v).split(".")[-1]) != 3 else (d, t)
        return (d, t, off if b == "datetimeoffset" else None)
    if b == "uniqueidentifier":
        return str(v).upper()
    if b in ("binary", "varbinary", "image"):
        raw = bytes.fromhex(str(v)[2:])
        if b == "binary" and col.n:
            raw = raw.ljust(col.n, b"\0")
        return raw
    if b in ("char", "nchar", "varchar", "nvarchar", "text", "ntext"):
        return fit_text(col, str(v))
    return v


def expected_rows(scenario, table):
    t = find_table(json.load(open(scenario)), table)
    cols = [Col(c) for c in t["columns"]]
    rows = [[generated(c, i) for c in cols] for i in range(t.get("rows", 0))]
    for r in t.get("data", []):
        rows.append([from_data(c, v) for c, v in zip(cols, r)])
    return cols, rows


def find_table(node, name):
    if isinstance(node, dict):
        if node.get("name") == name and "columns" in node:
            return node
        node = list(node.values())
    if isinstance(node, list):
        for v in node:
            t = find_table(v, name) if isinstance(v, (dict, list)) else None
            if t:
                return t
    return None


def canonical_text(col, v):
    """Issue 5's text form of a canonical value (CSV, JSONL, SQLite)."""
    b = col.base
    if isinstance(v, tuple):
        d, t, off = v
        if b == "date":
            return fmt_dt(d, 0, 0, True, False)
        if b == "time":
            return fmt_dt(0, t, col.scale, False, True)
        if b == "smalldatetime":
            return fmt_dt(d, t, 0)
        if b == "datetime":
            return fmt_dt(d, t, 3)
        s = fmt_dt(d, t, col.scale)
        if off is not None:
            s += " %s%02d:%02d" % ("-" if off < 0 else "+", abs(off) // 60, abs(off) % 60)
        return s
    if isinstance(v, decimal.Decimal):
        sc = 4 if "money" in b else col.scale
        return format(v.quantize(decimal.Decimal(1).scaleb(-sc)), "f")
    return v


# ------------------------------------------------------------ readers

def read_csv_raw(text):
    """RFC 4180 with NULL (unquoted empty) told apart from "" (quoted)."""
    rows, row, field, quoted, i, n = [], [], [], False, 0, len(text)
    at_start = True
    while i < n:
        ch = text[i]
        if at_start and ch == '"':
            quoted, at_start = True, False
            i += 1
            while i < n:
                if text[i] == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        field.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                field.append(text[i])
                i += 1
            continue
        if ch == ",":
            row.append("".join(field) if field or quoted else None)
            field, quoted, at_start = [], False, True
        elif ch == "\r" and i + 1 < n and text[i + 1] == "\n":
            pass
        elif ch == "\n":
            row.append("".join(field) if field or quoted else None)
            rows.append(row)
            row, field, quoted, at_start = [], [], False, True
        else:
            field.append(ch)
            at_start = False
        i += 1
    if field or row:
        row.append("".join(field) if field or quoted else None)
        rows.append(row)
    return rows


def opener(path):
    return gzip.open(path, "rt", encoding="utf-8", newline="") if path.endswith(".gz") \
        else open(path, encoding="utf-8", newline="")


def read_sink(sink, target, cols, ddb_query, table):
    names = [c.name for c in cols]
    if sink == "csv":
        rows = read_csv_raw(opener(target).read())
        head = rows[0]
        idx = [head.index(nm) for nm in names]
        return [[r[k] for k in idx] for r in rows[1:]]
    if sink == "jsonl":
        out = []
        for line in opener(target):
            o = json.loads(line)
            out.append([o[nm] for nm in names])
        return out
    if sink == "sqlite":
        db = sqlite3.connect(target)
        db.text_factory = str
        q = "SELECT %s FROM %s" % (",".join('"%s"' % n for n in names), table)
        return [list(r) for r in db.execute(q)]
    if sink == "duckdb":
        out = {}
        for c in cols:
            e = 'hex("%s")' % c.name if c.base in ("binary", "varbinary", "image") \
                else 'CAST("%s" AS VARCHAR)' % c.name
            q = 'SELECT "%s", %s FROM %s' % (cols[0].name, e, table)
            res = subprocess.run([ddb_query, target, q], capture_output=True, text=True)
            if res.returncode:
                raise SystemExit("duckdb: " + res.stderr.strip())
            for line in res.stdout.split("\n")[:-1]:
                k, _, v = line.partition("|")
                out.setdefault(k, []).append(None if v == "\\N" else v)
        # types too: the mapping is part of what is checked
        res = subprocess.run([ddb_query, target, "SELECT %s FROM %s LIMIT 1" % (
            ",".join('typeof("%s")' % c.name for c in cols), table)], capture_output=True, text=True)
        read_sink.duck_types = res.stdout.strip().split("|")
        return list(out.values())
    if sink == "postgresql":
        exprs = []
        for c in cols:
            exprs.append("encode(\"%s\", 'hex')" % c.name if c.base in ("binary", "varbinary", "image")
                         else "\"%s\"::text" % c.name)
        q = "COPY (SELECT %s FROM %s) TO STDOUT WITH (FORMAT csv)" % (",".join(exprs), table)
        res = subprocess.run(["psql", target, "-X", "-q", "-c", "SET TIME ZONE 'UTC'", "-c", q],
                             capture_output=True, text=True)
        if res.returncode:
            raise SystemExit("psql: " + res.stderr.strip())
        return read_csv_raw(res.stdout)
    raise SystemExit("unknown sink " + sink)


# ------------------------------------------------------------ compare

def check_value(sink, col, exp, got, duck_type):
    """'' when equal, else why not."""
    b = col.base
    if exp is None or got is None:
        return "" if exp is None and got is None else "NULL mismatch"
    text_sink = sink in ("csv", "jsonl", "sqlite")
    if b == "bit":
        g = got if isinstance(got, bool) else str(got).lower() in ("1", "true", "t")
        ok = str(got).lower() in ("0", "1", "true", "false", "t", "f")
        return "" if ok and g == exp else "bit"
    if b in ("tinyint", "smallint", "int", "bigint"):
        return "" if int(got) == exp and not isinstance(got, float) else "integer"
    if b in ("real", "float"):
        g = float(got)
        if b == "real":
            g = struct.unpack("<f", struct.pack("<f", g))[0]
        return "" if g == exp else "float"
    if b in ("smallmoney", "money", "decimal", "numeric"):
        want = canonical_text(col, exp)
        if sink == "jsonl" and not isinstance(got, str):
            return "decimal not a JSON string"
        return "" if str(got) == want else "decimal text"
    if isinstance(exp, tuple):
        if text_sink:
            return "" if got == canonical_text(col, exp) else "text form"
        d, t, off = exp
        gd, gt, goff = parse_dt(got)
        if b == "date":
            return "" if gd == d else "date"
        unit = 1
        if b in ("time", "datetime2", "datetimeoffset") and col.scale > 6:
            ns = sink == "duckdb" and duck_type in ("TIME_NS", "TIMESTAMP_NS")
            unit = 1 if ns else 10
        if b == "datetimeoffset":
            # PG and DuckDB keep the instant (printed here in UTC)
            inst = d * TICKS_DAY + t - off * 600_000_000
            ginst = gd * TICKS_DAY + gt - (goff or 0) * 600_000_000
            inst = (inst + unit // 2) // unit * unit
            return "" if inst == ginst else "instant"
        if b == "time":  # PG's time holds 24:00:00, which 23:59:59.9999995 rounds to
            return "" if (t + unit // 2) // unit * unit == gd * TICKS_DAY + gt else "time"
        rd, rt = round_ticks(d, t, unit)
        return "" if (rd, rt) == (gd, gt) else "timestamp"
    if b == "uniqueidentifier":
        return "" if str(got).upper() == exp else "guid"
    if isinstance(exp, bytes):
        if sink == "csv":
            g = bytes.fromhex(got[2:]) if got.startswith("0x") else None
        elif sink == "jsonl":
            g = base64.b64decode(got)
        elif sink == "sqlite":
            g = got if isinstance(got, bytes) else None
        else:
            g = bytes.fromhex(got)
        return "" if g == exp else "binary"
    if b == "sql_variant":
        if isinstance(exp, float):
            return "" if float(got) == exp else "variant float"
        if isinstance(exp, int):
            return "" if str(got) == str(exp) else "variant int"
        return "" if got == exp else "variant text"
    return "" if got == exp else "text"


def short(v):
    r = repr(v)
    return r if len(r) <= 70 else "%s…%s (%d chars)" % (r[:40], r[-15:], len(str(v)))


def main():
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    scenario, table, sink, target = sys.argv[1:5]
    ddb_query = sys.argv[5] if len(sys.argv) > 5 else "ddb_query"
    cols, want = expected_rows(scenario, table)
    qual = table if sink in ("csv", "jsonl") else sys.argv[6] if len(sys.argv) > 6 else table
    got = read_sink(sink, target, cols, ddb_query, qual)
    duck_types = getattr(read_sink, "duck_types", [None] * len(cols))
    key = lambda r: int(r[0])
    want.sort(key=key)
    got.sort(key=key)
    bad = 0
    if len(want) != len(got):
        print("%s: %d rows, expected %d" % (sink, len(got), len(want)))
        bad += 1
    for w, g in zip(want, got):
        for k, c in enumerate(cols):
            why = check_value(sink, c, w[k], g[k], duck_types[k])
            if why:
                bad += 1
                if bad <= 30:
                    print("%s: id %s %s (%s): %s: got %s, expected %s" % (
                        sink, w[0], c.name, c.type, why, short(g[k]),
                        short(canonical_text(c, w[k]) if w[k] is not None else None)))
    checked = len(want) * len(cols)
    print("%s: %d values of %d columns checked, %d differ" % (sink, checked, len(cols), bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
