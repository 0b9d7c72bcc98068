#!/usr/bin/env bash
# e2e_parallel.sh — parallel partitioned reads (issue 16, docs/parallel.md)
# end to end against build/tdstestd: a table with sparse, skewed and NULL
# keys (int, bigint, date, datetime2) and streamed (max) values, read with
# --extract-parallelism 1..8 and every partition column into CSV, DuckDB,
# SQLite and PostgreSQL (when installed): every row exactly once, compared
# with a sequential load of the same table (rows sorted; file order is not
# the table's order in a parallel read). Also: windows combined with
# --incremental-key bounds, --sql-limit refused with a partition column,
# automatic split of a large table on its clustered key (and its off
# switches), window progress, a window failing mid-load and SIGINT during
# a read: exit 1 and the destination exactly as it was.
#
#   tests/cli/e2e_parallel.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_parallel "$@"
cd "$work"

# 3000 rows: id sparse (gaps of 1..50), k bigint skewed (90% in a band of
# 40 values, the rest spread over ±2^40) with 10% NULL, d date with NULLs,
# ts datetime2 over a year, note nvarchar(max) (every 97th row 20 kB: its
# chunks span packets)
python3 - <<'PY'
import json, random
random.seed(16)
rows, i = [], 0
for r in range(3000):
    i += random.randint(1, 50)
    k = None if r % 10 == 3 else (random.randint(1000, 1040) if random.random() < 0.9 else random.randint(-2**40, 2**40))
    d = None if r % 17 == 5 else "2023-%02d-%02d" % (random.randint(1, 12), random.randint(1, 28))
    ts = "2024-%02d-%02d %02d:%02d:%02d.%07d" % (random.randint(1, 12), random.randint(1, 28), random.randint(0, 23),
                                                 random.randint(0, 59), random.randint(0, 59), random.randint(0, 9999999))
    note = ("n%d-" % r) * (2000 if r % 97 == 0 else 1)
    rows.append([i, k, d, ts, "name-%d" % r, note])
scen = {"logins": [{"user": "sa", "password": "Passw0rd!", "database": "demo"}],
        "databases": [{"name": "demo", "tables": [
            {"schema": "dbo", "name": "events", "primary_key": ["id"],
             "columns": [{"name": "id", "type": "int", "nullable": False}, {"name": "k", "type": "bigint"},
                         {"name": "d", "type": "date"}, {"name": "ts", "type": "datetime2(7)"},
                         {"name": "name", "type": "nvarchar(40)"}, {"name": "note", "type": "nvarchar(max)"}],
             "data": rows},
            {"schema": "dbo", "name": "big", "rows": 200000, "primary_key": ["id"],
             "columns": [{"name": "id", "type": "int", "nullable": False, "gen": {"start": 1, "step": 1}},
                         {"name": "v", "type": "nvarchar(20)", "gen": {"prefix": "v-"}}]}]}]}
json.dump(scen, open("par.json", "w"))
s = json.load(open("par.json")); s["faults"] = {"error_after_rows": 5000}
json.dump(s, open("fail.json", "w"))
busy = {"number": 40501, "severity": 16, "state": 1, "message": "The service is currently busy."}
s = json.load(open("par.json"))  # Azure's transient 40501 on one window's first try, on another's every try
s["rules"] = [{"match": "\\[id\\] >= 12501 AND", "times": 1, "error": busy},
              {"match": "\\[id\\] >= 37501 AND", "times": 0, "error": busy}]
json.dump(s, open("busy.json", "w"))
PY
start_server "$work/par.json"
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"
start_server "$work/fail.json"
F="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"

load() { # NAME RC TABLE DEST ARGS…
  local name=$1 want=$2 table=$3 dest=$4; shift 4
  run "$name" "$want" ingest --source-uri "$U" --source-table "$table" --dest-uri "$dest" --no-load-timestamp "$@"
}
sorted() { tail -n +2 "$1" | sort | md5sum | cut -d' ' -f1; }

# ---------------------------------------------- CSV: every row exactly once
load "sequential reference" 0 dbo.events "csv://$work/seq.csv" --extract-parallelism 1
ref=$(sorted seq.csv)
same "reference rows" "$(($(wc -l <seq.csv) - 1))" 3000
for spec in "id auto 1" "id auto 3" "id 20000 8" "k 50000000000 2" "k auto 5" "d 7d 3" "d auto 8" "ts 6h 4"; do
  set -- $spec
  rm -f par.csv
  load "csv by $1 ($2), N=$3" 0 dbo.events "csv://$work/par.csv" --extract-partition-by "$1" \
    --extract-partition-interval "$2" --extract-parallelism "$3"
  same "csv by $1 ($2), N=$3: same rows" "$(sorted par.csv)" "$ref"
done
head -1 seq.csv >h1; head -1 par.csv >h2
same "same header" "$(cat h2)" "$(cat h1)"

# ------------------------------------------- incremental bounds + windows
for col in id k; do
  load "incremental seq ($col)" 0 dbo.events "csv://$work/iseq.csv" --incremental-key id --incremental-strategy append \
    --interval-start 20000 --interval-end 60000 --extract-parallelism 1
  load "incremental par ($col)" 0 dbo.events "csv://$work/ipar.csv" --incremental-key id --incremental-strategy append \
    --interval-start 20000 --interval-end 60000 --extract-partition-by $col --extract-parallelism 4
  same "incremental bounds with windows on $col" "$(sorted ipar.csv)" "$(sorted iseq.csv)"
done
load "datetime window with its own bounds" 0 dbo.events "csv://$work/tpar.csv" --incremental-key ts \
  --incremental-strategy append --interval-start 2024-03-01 --interval-end 2024-09-01 --extract-partition-by ts \
  --extract-partition-interval 7d --extract-parallelism 5
load "datetime bounds sequential" 0 dbo.events "csv://$work/tseq.csv" --incremental-key ts \
  --incremental-strategy append --interval-start 2024-03-01 --interval-end 2024-09-01 --extract-parallelism 1
same "datetime windows = sequential" "$(sorted tpar.csv)" "$(sorted tseq.csv)"

# ------------------------------------------------------ refusals (exit 2)
load "--sql-limit with a partition column" 2 dbo.events "csv://$work/no.csv" --extract-partition-by id --sql-limit 10
expect_err "--sql-limit refused in one line" "--sql-limit cannot be combined with --extract-partition-by"
load "a text partition column" 2 dbo.events "csv://$work/no.csv" --extract-partition-by name
expect_err "text column refused" "it must be an integer, date or datetime column"
load "a missing partition column" 2 dbo.events "csv://$work/no.csv" --extract-partition-by nope
expect_err "missing column refused" "the source table has no column 'nope'"
load "a duration on an integer column" 2 dbo.events "csv://$work/no.csv" --extract-partition-by id --extract-partition-interval 6h
expect_err "duration refused" "an integer column takes a whole number step"
load "a query: source" 2 "query:SELECT id FROM dbo.events" "csv://$work/no.csv" --dest-table q --extract-partition-by id
expect_err "query refused" "splits table sources only"
[ -e no.csv ] && bad "a refused load wrote no.csv" || ok "refused loads write nothing"
load "--sql-limit with automatic split: sequential" 0 dbo.big "csv://$work/lim.csv" --sql-limit 10 --extract-split-rows 1000
same "--sql-limit rows" "$(($(wc -l <lim.csv) - 1))" 10

# ------------------------------------- DuckDB, SQLite, PostgreSQL destinations
agg="count(*), count(k), sum(id), sum(k), count(d), min(ts), max(ts), sum(length(note))"
duck=${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}
if [ -s "$duck" ] && [ -x "$build/ddb_query" ]; then
  load "duckdb sequential" 0 dbo.events "duckdb:///$work/seq.duckdb" --extract-parallelism 1
  want=$("$build/ddb_query" seq.duckdb "select $agg from dbo.events")
  for n in 2 8; do
    load "duckdb N=$n" 0 dbo.events "duckdb:///$work/par$n.duckdb" --extract-partition-by k --extract-parallelism $n
    same "duckdb N=$n: same rows" "$("$build/ddb_query" par$n.duckdb "select $agg from dbo.events")" "$want"
    same "duckdb N=$n: no duplicate id" "$("$build/ddb_query" par$n.duckdb "select count(distinct id) from dbo.events")" 3000
  done
else
  echo "skip DuckDB: no libduckdb"
fi
sqlagg="count(*), count(k), sum(id), sum(k), count(d), min(ts), max(ts), sum(length(note)), count(distinct id)"
load "sqlite sequential" 0 dbo.events "sqlite:///$work/seq.db" --extract-parallelism 1
want=$(sqlite3 seq.db "select $sqlagg from events" 2>&1)
for n in 3 8; do
  load "sqlite N=$n" 0 dbo.events "sqlite:///$work/par$n.db" --extract-partition-by d --extract-parallelism $n
  same "sqlite N=$n: same rows" "$(sqlite3 par$n.db "select $sqlagg from events" 2>&1)" "$want"
done
if [ -x "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -1)" ] && command -v psql >/dev/null; then
  pgdir=$(mktemp -d /tmp/tdspipe-pg.XXXXXX)
  if pgport=$(bash "$src/tests/sink/pg_server.sh" start "$pgdir" 2>"$work/pg.err"); then
    PG="postgresql://postgres@127.0.0.1:$pgport/postgres"
    load "postgres sequential" 0 dbo.events "$PG" --dest-table public.events_seq --extract-parallelism 1
    load "postgres N=6" 0 dbo.events "$PG" --dest-table public.events_par --extract-partition-by ts --extract-parallelism 6
    same "postgres: same rows" "$(psql "$PG" -Atc "select $sqlagg from public.events_par")" \
      "$(psql "$PG" -Atc "select $sqlagg from public.events_seq")"
  else
    echo "skip PostgreSQL: $(head -3 "$work/pg.err")"
  fi
else
  echo "skip PostgreSQL: not installed"
fi

# ------------------------------------------ automatic split and progress
load "auto split (json progress)" 0 dbo.big "csv://$work/auto.csv" --extract-split-rows 100000 --extract-parallelism 4 --progress json
done_windows=$(grep -c '"event":"window".*"state":"done"' "$work/err")
same "auto split: 16 windows reported done" "$done_windows" 16
same "auto split: rows" "$(($(wc -l <auto.csv) - 1))" 200000
same "auto split: every id once" "$(tail -n +2 auto.csv | cut -d, -f1 | sort -un | wc -l)" 200000
load "below the threshold: one connection" 0 dbo.big "csv://$work/one.csv" --progress json --extract-split-rows 300000
same "no window below the threshold" "$(grep -c '"event":"window"' "$work/err")" 0
load "--extract-parallelism 1: one connection" 0 dbo.big "csv://$work/one.csv" --progress json --extract-split-rows 1000 \
  --extract-parallelism 1
same "no window with parallelism 1" "$(grep -c '"event":"window"' "$work/err")" 0
load "log progress names each window" 0 dbo.events "csv://$work/log.csv" --extract-partition-by id --extract-parallelism 2 \
  --extract-partition-interval 20000 --progress log
same "a log line per window" "$(grep -c 'window [0-9]*/[0-9]* done' "$work/err")" "$(grep -o 'window [0-9]*/\([0-9]*\)' "$work/err" | head -1 | cut -d/ -f2)"

# --------------------------------------------- a window fails mid-load
printf 'keep\n' >keep.csv
before=$(md5sum <keep.csv)
run "failing window (csv)" 1 ingest --source-uri "$F" --source-table dbo.big --dest-uri "csv://$work/keep.csv" \
  --extract-partition-by id --extract-parallelism 4 --no-load-timestamp
expect_err "the failing window is named" "reading window [id]"
same "csv unchanged" "$(md5sum <keep.csv)" "$before"
load "sqlite before the failure" 0 dbo.big "sqlite:///$work/keep.db" --extract-parallelism 1
run "failing window (sqlite)" 1 ingest --source-uri "$F" --source-table dbo.big --dest-uri "sqlite:///$work/keep.db" \
  --extract-partition-by id --extract-parallelism 8 --no-load-timestamp --incremental-strategy append
same "sqlite unchanged" "$(sqlite3 keep.db 'select count(*), sum(id) from big')" "200000|20000100000"
if [ -s "$duck" ] && [ -x "$build/ddb_query" ]; then
  load "duckdb before the failure" 0 dbo.big "duckdb:///$work/keep.duckdb" --extract-parallelism 1
  run "failing window (duckdb)" 1 ingest --source-uri "$F" --source-table dbo.big --dest-uri "duckdb:///$work/keep.duckdb" \
    --extract-partition-by id --extract-parallelism 3 --no-load-timestamp
  same "duckdb unchanged" "$("$build/ddb_query" keep.duckdb 'select count(*), sum(id) from dbo.big')" "200000|20000100000"
  run "failing window, new duckdb file" 1 ingest --source-uri "$F" --source-table dbo.big --dest-uri "duckdb:///$work/new.duckdb" \
    --extract-partition-by id --no-load-timestamp
  [ -e new.duckdb ] && bad "a failed load left new.duckdb" || ok "no new.duckdb after a failed load"
fi
# --------------------------------------------- transient faults per window
start_server "$work/busy.json" --verbose
B="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"
run "a window busy once is retried" 0 ingest --source-uri "$B" --source-table dbo.big --dest-uri "csv://$work/busy.csv" \
  --no-load-timestamp --extract-partition-by id --extract-parallelism 4 --extract-partition-interval 12500 \
  --sql-exclude-columns v --incremental-key id --interval-start 1 --interval-end 30000
same "retried window: every row once" "$(tail -n +2 busy.csv | sort -un | wc -l) $(($(wc -l <busy.csv) - 1))" "30000 30000"
same "the busy window was sent twice" "$(grep -c '\[id\] >= 12501 AND' "$srv_err")" 2
run "a window busy every time fails" 1 ingest --source-uri "$B" --source-table dbo.big --dest-uri "csv://$work/busy2.csv" \
  --no-load-timestamp --extract-partition-by id --extract-parallelism 4 --extract-partition-interval 12500 --retries 1
expect_err "the busy window is named" "reading window [id] >= 37501 AND [id] < 50001 from SQL Server failed: The service is currently busy."

# --------------------------------------------- SIGINT during a parallel read
start_server "$work/par.json" --rate-limit-mbs 0.5
S="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"
"$tdspipe" ingest --source-uri "$S" --source-table dbo.big --dest-uri "csv://$work/int.csv" --no-load-timestamp \
  --extract-partition-by id --extract-parallelism 4 >"$work/int.out" 2>&1 &
ip=$!
sleep 1.5
kill -INT $ip
wait $ip
same "SIGINT: exit 1" $? 1
same "SIGINT: cancelled" "$(tail -1 "$work/int.out")" "tdspipe: the load was cancelled"
[ -e int.csv ] && bad "SIGINT left int.csv" || ok "SIGINT: no destination file"
finish
