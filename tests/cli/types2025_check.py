#!/usr/bin/env python3
"""types2025_check.py — an independent model of tdstestd's json/vector
generator (tests/server/types2025.c) for scenarios/types2025.json, and a
reader of each destination: every value is compared with the model.

  types2025_check.py SCENARIO SINK TARGET [DDB_QUERY] [TABLE]
  SINK: csv | jsonl | sqlite | duckdb | postgresql | mssql-csv (a CSV read back from a SQL Server table);
  jsonl-text / postgresql-text: a source without the features (values arrive as JSON text strings)
"""
import csv, json, struct, subprocess, sys

def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]

def model(scen):
    t = json.load(open(scen))['databases'][0]['tables'][0]
    rows = {}
    for i in range(t['rows']):
        row = {}
        for c in t['columns']:
            g = c.get('gen', {})
            x = g.get('start', 1) + i * g.get('step', 1)
            ne = g.get('null_every', 0)
            if c.get('nullable', True) and ne and i % ne == ne - 1:
                row[c['name']] = None
                continue
            ty = c['type'].replace(' ', '').lower()
            if ty == 'int':
                row[c['name']] = x
            elif ty == 'json':
                pre = g.get('prefix', c['name'] + '-')
                row[c['name']] = {"i": x, "s": "%s%d" % (pre, x), "a": [x, -x, None],
                                  "ok": x % 2 == 0, "u": "\u00e9\u20ac"}
            else:  # vector(n[,float16])
                n = int(ty[len('vector('):].split(',')[0].rstrip(')'))
                row[c['name']] = [f32((((x * 31 + j * 7) % 2001) - 1000) / 8.0) for j in range(n)]
        rows[row['id']] = row
    return t['columns'], rows

def text_vec(s):
    return None if s in (None, '') else [float(v) for v in json.loads(s)]

def pg_vec(s):
    return None if s in (None, '') else [float(v) for v in s.strip('{}').split(',')]

def read(sink, target, ddb, table, cols):
    names = [c['name'] for c in cols]
    out = {}
    if sink in ('csv', 'mssql-csv'):
        for r in csv.DictReader(open(target, encoding='utf-8')):
            out[int(r['id'])] = {k: r[k] for k in names}
        conv = {'json': lambda s: None if s == '' else json.loads(s), 'vec': text_vec}
    elif sink in ('jsonl', 'jsonl-text'):
        for line in open(target, encoding='utf-8'):
            r = json.loads(line)
            for k in names:  # embedded values, not strings (text source: strings)
                if isinstance(r[k], str):
                    if sink == 'jsonl':
                        raise SystemExit('jsonl: %s is a string, not embedded JSON' % k)
                    r[k] = json.loads(r[k])
            out[int(r['id'])] = {k: r[k] for k in names}
        conv = {'json': lambda v: v, 'vec': lambda v: None if v is None else [float(e) for e in v]}
    else:
        sel = ', '.join('"%s"' % n for n in names)
        if sink == 'sqlite':
            cmd = ['sqlite3', '-json', target, 'select %s from %s' % (sel, table)]
            rows = json.loads(subprocess.check_output(cmd) or b'[]')
            conv = {'json': lambda s: None if s is None else json.loads(s), 'vec': text_vec}
        elif sink == 'duckdb':
            q = 'select %s from %s' % (', '.join("coalesce(cast(\"%s\" as varchar), '\\N')" % n for n in names), table)
            lines = subprocess.check_output([ddb, target, q]).decode().splitlines()
            rows = [dict(zip(names, [None if v == '\\N' else v for v in l.split('|')])) for l in lines]
            conv = {'json': lambda s: None if s is None else json.loads(s), 'vec': text_vec}
        else:  # postgresql: psql, one JSON object a row
            q = "select row_to_json(t)::text from (select %s from %s) t" % (sel, table)
            lines = subprocess.check_output(['psql', target, '-Atc', q]).decode().splitlines()
            rows = [json.loads(l) for l in lines]
            unstr = lambda v: json.loads(v) if isinstance(v, str) and sink == 'postgresql-text' else v
            conv = {'json': lambda v: unstr(v), 'vec': lambda v: None if v is None else [float(e) for e in unstr(v)]}
        for r in rows:
            out[int(r['id'])] = r
    res = {}
    for k, r in out.items():
        res[k] = {}
        for c in cols:
            v = r[c['name']]
            ty = c['type'].lower()
            res[k][c['name']] = int(v) if c['name'] == 'id' else conv['json'](v) if ty == 'json' else conv['vec'](v)
    return res

def main():
    scen, sink, target = sys.argv[1:4]
    ddb = sys.argv[4] if len(sys.argv) > 4 else ''
    table = sys.argv[5] if len(sys.argv) > 5 else 't'
    cols, want = model(scen)
    got = read(sink, target, ddb, table, cols)
    bad = 0
    if sorted(got) != sorted(want):
        print('ids differ: got %s want %s' % (sorted(got), sorted(want)))
        bad += 1
    for k in sorted(want):
        for c in cols:
            n = c['name']
            if k in got and got[k][n] != want[k][n]:
                bad += 1
                if bad < 6:
                    print('id %d %s: got %.120s want %.120s' % (k, n, got[k][n], want[k][n]))
    if bad:
        sys.exit(1)
    print('%d rows x %d columns equal' % (len(want), len(cols)))

main()
