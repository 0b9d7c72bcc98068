#!/usr/bin/env bash
# e2e_partfn.sh — parallel reads split on a table's own partition function
# (issue 16, docs/parallel.md "Partitioned tables") against build/tdstestd:
# tables partitioned RANGE LEFT on an int column, RANGE RIGHT on a date
# column and RANGE RIGHT with 40 boundaries (merged windows), with rows on,
# between and beyond the boundaries and NULL keys, read with N = 1, 3, 8
# into CSV: every row exactly once against a sequential read; each
# window's row count against an independent model of SQL Server's rule
# (Python below, from CREATE PARTITION FUNCTION's docs); windows combined
# with --incremental-key bounds; the catalog tdstestd answers.
#
#   tests/cli/e2e_partfn.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_partfn "$@"
cd "$work"

python3 - <<'PY'
import json, random, datetime as dt
random.seed(1611)
def table(name, ktype, rng, bounds, data, scheme=None, pk=["id"]):
    pf = {"name": "pf_" + name, "column": "k", "range": rng, "values": bounds}
    if scheme: pf["scheme"] = scheme
    return {"schema": "dbo", "name": name, "primary_key": pk, "partition_function": pf,
            "columns": [{"name": "id", "type": "int", "nullable": False}, {"name": "k", "type": ktype},
                        {"name": "v", "type": "nvarchar(30)"}], "data": data}
# int, RANGE LEFT: keys on, next to and between the boundaries, below, above, NULL
lb = [1, 100, 1000, 5000]
keys = [None] * 7 + [b + d for b in lb for d in (-1, 0, 1)] + [random.randint(-3000, 9000) for _ in range(400)] + [-2**31, 2**31 - 1]
pl = [[i + 1, k, "l%d" % i] for i, k in enumerate(keys)]
# date, RANGE RIGHT (the values given unsorted: SQL Server sorts them)
db = ["2024-07-01", "2024-01-01", "2024-04-01", "2024-10-01"]
base = dt.date(2023, 11, 1)
dk = [None] * 5 + [b for b in db] + [(base + dt.timedelta(days=random.randint(0, 450))).isoformat() for _ in range(500)]
pr = [[i + 1, k, "r%d" % i] for i, k in enumerate(dk)]
# int, RANGE RIGHT, 40 partitions of 25
mb = [25 * j for j in range(1, 40)]
pm = [[i + 1, None if i % 50 == 7 else random.randint(-10, 1010), "m%d" % i] for i in range(1200)]
# a heap partitioned RANGE LEFT on datetime2(7): keys on the boundaries and 1 µs off
tb = ["2024-03-01 00:00:00", "2024-06-01 12:00:00", "2024-09-01 00:00:00"]
t0 = dt.datetime(2024, 1, 1)
tk = [None] * 4 + [b + ".000000" for b in tb] + [b + ".000001" for b in tb] + \
     [(t0 + dt.timedelta(microseconds=random.randint(0, 360 * 86400 * 10**6))).strftime("%Y-%m-%d %H:%M:%S.%f") for _ in range(400)]
ph = [[i + 1, k, "h%d" % i] for i, k in enumerate(tk)]
scen = {"logins": [{"user": "sa", "password": "Passw0rd!", "database": "demo"}],
        "databases": [{"name": "demo", "tables": [table("pl", "int", "left", lb, pl),
                                                  table("pr", "date", "right", db, pr, "ps_dates"),
                                                  table("pm", "bigint", "right", mb, pm),
                                                  table("ph", "datetime2(7)", "left", tb, ph, pk=[]),
                                                  table("p0", "int", "right", [], pl)]}]}
json.dump(scen, open("pf.json", "w"))
PY
start_server "$work/pf.json"
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"

load() { # NAME RC TABLE DEST ARGS…
  local name=$1 want=$2 table=$3 dest=$4; shift 4
  run "$name" "$want" ingest --source-uri "$U" --source-table "$table" --dest-uri "$dest" --no-load-timestamp "$@"
}
sorted() { tail -n +2 "$1" | sort | md5sum | cut -d' ' -f1; }

# model: rows per window from SQL Server's rule, compared with the log's
# "window i/T done (<predicate>): R rows" lines. A window is named by its
# lower bound (none for the first, which also holds the NULLs).
check_windows() { # NAME TABLE RANGE KIND MERGE [LO HI]
  python3 - "$work/pf.json" "$work/err" "$@" <<'PY'
import json, re, sys, bisect, datetime as dt
scen, log, name, table, rng, kind, merge = sys.argv[1:8]
lim = sys.argv[8:10]
t = [x for x in json.load(open(scen))["databases"][0]["tables"] if x["name"] == table][0]
conv = {"date": dt.date.fromisoformat, "dt2": dt.datetime.fromisoformat}.get(kind, int)
b = sorted(conv(v) for v in t["partition_function"]["values"])
def partition(k):  # $PARTITION: NULL sorts lowest; LEFT: count(b < k), RIGHT: count(b <= k)
    if k is None: return 1
    return (bisect.bisect_left(b, k) if rng == "left" else bisect.bisect_right(b, k)) + 1
rows = [conv(r[1]) if r[1] is not None else None for r in t["data"]]
if lim:
    start, end = conv(lim[0]), conv(lim[1])
    rows = [k for k in rows if k is not None and start <= k < end]
count = {}
for k in rows: count[partition(k)] = count.get(partition(k), 0) + 1
def lower(p):  # the lower bound text of partition p's window
    if p == 1: return None
    x = b[p - 2]
    if kind == "dt2":  # LEFT: b + 100 ns
        return "CAST(N'%s%s' AS datetime2(7))" % (x.strftime("%Y-%m-%d %H:%M:%S.%f"), "1" if rng == "left" else "0")
    if rng == "left": x = x + (dt.timedelta(days=1) if kind == "date" else 1)
    return "CAST(N'%s' AS date)" % x.isoformat() if kind == "date" else str(x)
got = {}
for m in re.finditer(r"window \d+/(\d+) done \((.*)\): (\d+) rows", open(log).read()):
    at = re.search(r"\[k\] >= (.*?)( AND|$)", m.group(2))
    got[at.group(1) if at and "IS NULL" not in m.group(2) else None] = int(m.group(3))
# the partitions read: all, or those the incremental bounds reach (the
# first read is open below, so it is named None)
parts = range(1, len(b) + 2) if not lim else range(partition(start), partition(end) + 1)
if merge == "1":  # one window per partition
    want = {(None if p == parts[0] else lower(p)): count.get(p, 0) for p in parts}
    print("ok" if got == want else "FAIL", f"{name}: windows = partitions, rows per window as the model's",
          "" if got == want else (got, want))
else:
    good = len(got) == int(merge) and sum(got.values()) == len(rows)
    print("ok" if good else "FAIL", f"{name}: {len(got)} merged windows, {sum(got.values())} rows")
PY
}
result() { # the checker's line into ok/bad
  local line; line=$("$@" 2>&1); case "$line" in ok*) ok "${line#ok }";; *) bad "$line";; esac
}

# --------------------------------------------------------------- catalog
load "catalog: functions" 0 "query:SELECT name, function_id, type, fanout, boundary_value_on_right FROM sys.partition_functions ORDER BY function_id" \
  "csv://$work/fn.csv" --dest-table fn
same "sys.partition_functions" "$(tail -n +2 fn.csv | tr -d '\r' | tr '\n' ' ')" "pf_pl,65536,\"R \",5,0 pf_pr,65537,\"R \",5,1 pf_pm,65538,\"R \",40,1 pf_ph,65539,\"R \",4,0 pf_p0,65540,\"R \",1,1 "
load "catalog: boundaries" 0 "query:SELECT v.boundary_id, v.value FROM sys.partition_range_values v JOIN sys.partition_functions f ON f.function_id = v.function_id WHERE f.name = 'pf_pl' ORDER BY v.boundary_id" \
  "csv://$work/rv.csv" --dest-table rv
same "sys.partition_range_values (LEFT, int)" "$(tail -n +2 rv.csv | tr -d '\r' | tr '\n' ' ')" "1,1 2,100 3,1000 4,5000 "
load "catalog: scheme and column" 0 "query:SELECT s.name AS scheme, i.index_id, c.name AS col FROM sys.indexes i JOIN sys.partition_schemes s ON s.data_space_id = i.data_space_id JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.partition_ordinal = 1 JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id WHERE i.object_id = OBJECT_ID(N'dbo.pr')" \
  "csv://$work/ps.csv" --dest-table ps
same "scheme, clustered index, partitioning column" "$(tail -n +2 ps.csv | tr -d '\r')" "ps_dates,1,k"
load "catalog: a heap's partitioning column" 0 "query:SELECT i.index_id, i.type_desc, ic.key_ordinal, ic.partition_ordinal FROM sys.indexes i JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id WHERE i.object_id = OBJECT_ID(N'dbo.ph')" \
  "csv://$work/hp.csv" --dest-table hp
same "heap: index 0, key_ordinal 0, partition_ordinal 1" "$(tail -n +2 hp.csv | tr -d '\r')" "0,HEAP,0,1"

# ------------------------------------------------- every row exactly once
for spec in "pl left int" "pr right date" "ph left dt2"; do
  set -- $spec
  load "$1: sequential reference" 0 dbo.$1 "csv://$work/$1-seq.csv" --extract-parallelism 1
  for n in 1 3 8; do
    rm -f par.csv
    load "$1 ($2, $3) by its partitions, N=$n" 0 dbo.$1 "csv://$work/par.csv" --extract-partition-by k \
      --extract-parallelism $n --progress log
    same "$1 N=$n: the sequential rows" "$(sorted par.csv)" "$(sorted $1-seq.csv)"
    [ $n = 8 ] && result check_windows "$1 N=8" $1 $2 $3 1
  done
  load "$1: automatic split on its partitions" 0 dbo.$1 "csv://$work/auto.csv" --extract-split-rows 10 --progress log
  same "$1 automatic: the sequential rows" "$(sorted auto.csv)" "$(sorted $1-seq.csv)"
  same "$1 automatic: one window per partition" "$(grep -c 'window [0-9]*/[0-9]* done' err)" "$(grep -o 'pf_'$1',[0-9]*,"R ",[0-9]*' fn.csv | cut -d, -f4)"
done
load "pm: sequential reference" 0 dbo.pm "csv://$work/pm-seq.csv" --extract-parallelism 1
for n in 1 3 8; do
  load "pm (40 partitions) N=$n" 0 dbo.pm "csv://$work/pm.csv" --extract-partition-by k --extract-parallelism $n --progress log
  same "pm N=$n: the sequential rows" "$(sorted pm.csv)" "$(sorted pm-seq.csv)"
  want=$((n * 4 < 40 ? n * 4 : 40))
  result check_windows "pm N=$n" pm right int $want
done
load "an interval asks for ranges instead" 0 dbo.pl "csv://$work/iv.csv" --extract-partition-by k \
  --extract-partition-interval 100000000 --extract-parallelism 3 --progress log
same "interval: the sequential rows" "$(sorted iv.csv)" "$(sorted pl-seq.csv)"
if grep -q 'IS NULL OR' err; then bad "interval windows are not the partitions"; else ok "interval windows are ranges"; fi
load "one partition (no boundaries): range windows" 0 dbo.p0 "csv://$work/p0.csv" --extract-partition-by k \
  --extract-parallelism 3 --progress log
same "one partition: the sequential rows" "$(sorted p0.csv)" "$(sorted pl-seq.csv)"
same "one partition: 12 range windows and a NULL window" "$(grep -c 'window [0-9]*/13 done' err)" 13

# ------------------------------------------------- incremental bounds
for spec in "pl left int 50 2000" "pr right date 2024-02-15 2024-08-01"; do
  set -- $spec
  inc=(--incremental-key k --incremental-strategy append --interval-start $4 --interval-end $5)
  load "$1 incremental sequential" 0 dbo.$1 "csv://$work/iseq.csv" "${inc[@]}" --extract-parallelism 1
  load "$1 incremental by partitions" 0 dbo.$1 "csv://$work/ipar.csv" "${inc[@]}" --extract-partition-by k \
    --extract-parallelism 8 --progress log
  same "$1 incremental: the sequential rows" "$(sorted ipar.csv)" "$(sorted iseq.csv)"
  result check_windows "$1 incremental" $1 $2 $3 1 $4 $5
done
# ------------------------------------------------- scenario refusals
for bad in '[5, 1, 5]' '["x"]'; do
  python3 - "$bad" <<'PY'
import json, sys
s = json.load(open("pf.json")); s["databases"][0]["tables"][0]["partition_function"]["values"] = json.loads(sys.argv[1])
json.dump(s, open("badpf.json", "w"))
PY
  timeout 10 "$tdstestd" --scenario "$work/badpf.json" --port 0 >/dev/null 2>badpf.err
  rc=$?
  if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "partition_function value" badpf.err; then ok "scenario values $bad refused"
  else bad "scenario values $bad: exit $rc" "$(head -c 300 badpf.err)"; fi
done
finish
