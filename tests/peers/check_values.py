#!/usr/bin/python3
"""check_values.py SCENARIO TABLE CLIENT_JSON
   check_values.py SCENARIO TABLE --freebcp FILE

Compares what one client read (the JSON written by pytds_check.py or
tedious_check.js: columns, rows of canonical text or null; or a
`freebcp … queryout -c -t '|'` file) with the rows the scenario defines for
TABLE. Exit 0 when every value matches.

Exactness is checked as far as each client can carry it, and no further:
  - decimal/numeric/money: exact (Decimal) for pytds; tedious returns JS
    numbers, so it is compared to 15 significant digits.
  - time/datetime2/datetimeoffset: 100 ns for tedious (Date ms plus
    nanosecondsDelta); pytds carries microseconds, so the scenario's value
    is truncated to microseconds first.
  - datetimeoffset: pytds keeps the offset (compared); tedious returns the
    UTC instant only (the instant is compared).
  - freebcp (-c): NULL is an empty field, '' is a NUL byte, binary is
    lower-case hex without 0x; FreeTDS prints every date/time type as
    datetime text with milliseconds (truncated), time on 1900-01-01 and
    datetimeoffset as its local time without the offset, so those are
    compared to the millisecond (local time for datetimeoffset).
  - GUIDs upper-case, binary as 0x hex, (max) values whole, NULL as null.
"""
import datetime
import decimal
import json
import re
import sys

decimal.getcontext().prec = 60


def find_table(node, name):
    """The scenario's table definition: a dict whose name is TABLE and that
    has columns (searched anywhere, so the scenario layout may vary)."""
    if isinstance(node, dict):
        nm = node.get("name")
        if isinstance(nm, str) and nm.split(".")[-1].strip("[]").lower() == name.lower() \
                and "columns" in node:
            return node
        items = node.items()
        for k, v in items:
            if k.lower() == name.lower() and isinstance(v, dict) and "columns" in v:
                v = dict(v)
                v.setdefault("name", k)
                return v
        for _, v in items:
            t = find_table(v, name)
            if t is not None:
                return t
    elif isinstance(node, list):
        for v in node:
            t = find_table(v, name)
            if t is not None:
                return t
    return None


def columns_of(t):
    cols = []
    for c in t["columns"]:
        if isinstance(c, dict):
            cols.append((c.get("name"), str(c.get("type", "")).lower()))
        elif isinstance(c, (list, tuple)):
            cols.append((c[0], str(c[1]).lower()))
        elif isinstance(c, str):  # "name type"
            n, _, ty = c.partition(" ")
            cols.append((n, ty.lower()))
    return cols


def rows_of(t, cols):
    rows = []
    data = t.get("data", t.get("rows", []))
    for r in data if isinstance(data, list) else []:
        if isinstance(r, dict):
            rows.append([r.get(n) for n, _ in cols])
        else:
            rows.append(list(r))
    return rows


DT_RE = re.compile(r"^(\d{1,4}-\d{2}-\d{2})?[ T]?(\d{2}:\d{2}:\d{2})?(?:\.(\d+))?"
                   r"\s*(?:([+-]\d{2}):?(\d{2})|UTC|Z)?$")


def parse_dt(s):
    """-> (days, ticks100ns, offset_minutes or None, had_offset_text)"""
    s = s.strip()
    m = DT_RE.match(s)
    if not m:
        raise ValueError("bad date/time %r" % s)
    d, t, frac, oh, om = m.groups()
    days = 0
    if d:
        d = d.zfill(10)
        days = (datetime.date.fromisoformat(d) - datetime.date(1, 1, 1)).days
    ticks = 0
    if t:
        hh, mm, ss = (int(x) for x in t.split(":"))
        ticks = ((hh * 60 + mm) * 60 + ss) * 10_000_000
    if frac:
        ticks += int((frac + "0000000")[:7])
    off = None
    if oh is not None:
        sign = -1 if oh.startswith("-") else 1
        off = sign * (abs(int(oh)) * 60 + int(om))
    elif s.endswith("UTC") or s.endswith("Z"):
        off = 0
    return days, ticks, off


def to_utc(days, ticks, off):
    total = days * 864_000_000_000 + ticks
    return total - (off or 0) * 60 * 10_000_000


def same(ty, exp, got, client):
    """(ok, note)"""
    if exp is None or got is None:
        return exp is None and got is None, ""
    base = ty.split("(")[0].strip()
    exps = exp if isinstance(exp, str) else json.dumps(exp) if not isinstance(exp, (int, float)) else repr(exp)
    if isinstance(exp, bool):
        exps = "1" if exp else "0"
    if base in ("tinyint", "smallint", "int", "bigint"):
        return int(exps) == int(got), ""
    if base == "bit":
        norm = lambda v: "1" if str(v).lower() in ("1", "true") else "0"
        return norm(exps) == norm(got), ""
    if base in ("decimal", "numeric", "money", "smallmoney"):
        e = decimal.Decimal(exps)
        if client == "tedious":
            g = float(got)
            return abs(float(e) - g) <= abs(float(e)) * 1e-15 + 1e-300, "approx"
        return e == decimal.Decimal(got), ""
    if base in ("float", "real"):
        e, g = float(exps), float(got)
        tol = 1e-6 if base == "real" else 1e-15
        return abs(e - g) <= abs(e) * tol, ""
    if base in ("date", "time", "datetime", "datetime2", "smalldatetime", "datetimeoffset"):
        ed, et, eo = parse_dt(exps)
        gd, gt, go = parse_dt(got)
        if client == "freebcp" and base not in ("datetime", "smalldatetime"):
            ms = 10_000
            if base == "date":
                return ed == gd, ""
            if base == "time":
                return et // ms == gt // ms, ""
            return (ed, et // ms) == (gd, gt // ms), ""  # dto: local time
        if client == "pytds" or base in ("datetime", "smalldatetime"):
            # pytds: microseconds; datetime is 1/300 s, clients round it to ms.
            q = 10 if client == "pytds" else 10_000
            if base in ("datetime", "smalldatetime"):
                q = 10_000
                et = (et + q // 2) // q * q if client != "pytds" else et // 10 * 10
            et = et // q * q
            gt = gt // q * q
        if base == "datetimeoffset":
            if to_utc(ed, et, eo) != to_utc(gd, gt, go):
                return False, ""
            if client == "pytds" and eo is not None and go is not None and eo != go:
                return False, "offset"
            return True, ""
        if base == "date":
            return ed == gd, ""
        if base == "time":
            return et == gt, ""
        return (ed, et) == (gd, gt), ""
    if base == "uniqueidentifier":
        return exps.upper() == str(got).upper(), ""
    if base in ("binary", "varbinary", "image", "timestamp", "rowversion"):
        e = exps.upper()
        if not e.startswith("0X"):
            e = "0X" + e
        g = str(got).upper()
        if base == "binary":
            return e.rstrip("0") == g.rstrip("0"), ""
        return e == g, ""
    if base in ("char", "nchar"):
        return exps.rstrip(" ") == str(got).rstrip(" "), ""
    return exps == str(got), ""


def short(v):
    """repr of v, long values cut in the middle with their length shown."""
    r = repr(v)
    if len(r) > 80:
        r = "%s...%s (%d chars)" % (r[:40], r[-20:], len(str(v)))
    return r


def read_freebcp(path, cols):
    """A `freebcp queryout -c -t '|'` file as the JSON the other readers write."""
    with open(path, "rb") as f:
        data = f.read().decode("utf-8")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = []
    for line in lines:
        vals = []
        for (name, ty), v in zip(cols, line.split("|")):
            base = ty.split("(")[0].strip()
            if v == "":
                vals.append(None)
            elif v == "\0":
                vals.append("0x" if base in ("binary", "varbinary", "image") else "")
            elif base in ("binary", "varbinary", "image"):
                vals.append("0x" + v.upper())
            else:
                vals.append(v)
        rows.append(vals)
    return {"client": "freebcp", "columns": [c for c, _ in cols], "rows": rows}


def main():
    args = sys.argv[1:]
    bcp = "--freebcp" in args
    if bcp:
        args.remove("--freebcp")
    if len(args) != 3:
        sys.exit(__doc__)
    scen_path, table, got_path = args
    with open(scen_path) as f:
        scen = json.load(f)
    t = find_table(scen, table)
    if t is None:
        sys.exit("check_values: table %s not in %s" % (table, scen_path))
    cols = columns_of(t)
    if bcp:
        got = read_freebcp(got_path, cols)
    else:
        with open(got_path) as f:
            got = json.load(f)
    exp_rows = rows_of(t, cols)
    client = got.get("client", "?")
    gcols = [c.lower() for c in got.get("columns", [])]
    grows = got.get("rows", [])
    errors = []
    if [c.lower() for c, _ in cols] != gcols:
        errors.append("columns differ: scenario %s, %s read %s" % ([c for c, _ in cols], client, gcols))
    if len(exp_rows) != len(grows):
        errors.append("row count: scenario %d, %s read %d" % (len(exp_rows), client, len(grows)))
    approx = 0
    for i, (er, gr) in enumerate(zip(exp_rows, grows)):
        for j, (name, ty) in enumerate(cols):
            if j >= len(er) or j >= len(gr):
                continue
            try:
                ok, note = same(ty, er[j], gr[j], client)
            except (ValueError, decimal.InvalidOperation, TypeError) as e:
                ok, note = False, str(e)
            if note == "approx":
                approx += 1
            if not ok:
                errors.append("row %d %s (%s): scenario %s, %s read %s %s"
                              % (i, name, ty, short(er[j]), client, short(gr[j]), note))
    for e in errors[:20]:
        print(e)
    if errors:
        print("%d mismatches" % len(errors))
        return 1
    print("%d rows x %d columns match%s" % (len(grows), len(cols),
          " (%d decimals compared as doubles)" % approx if approx else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
