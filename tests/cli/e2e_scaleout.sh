#!/usr/bin/env bash
# e2e_scaleout.sh — scale-out slices (issue 16, docs/scale-out.md) end to
# end against build/tdstestd (capped per connection so a slice takes a few
# seconds): n = 3 local processes each load one slice of a 300000-row table
# into a CSV part file (one of them as a Kubernetes Indexed Job pod would,
# from JOB_COMPLETION_INDEX); one is killed (SIGKILL) mid-load, so its part
# is missing and --finalize refuses, naming it; the slice is rerun and
# --finalize joins the parts into the destination: every row exactly once,
# one header, no part left. The same with JSONL, and with SQLite (a table
# per slice, a killed slice, finalize by replace then by append), DuckDB
# and PostgreSQL (4 slices at once), and SQL Server (3 slices at once into
# tdstestd itself, one killed and rerun; then a merge finalize onto a
# table with overlapping keys).
# Also the flags' refusals.
#
#   tests/cli/e2e_scaleout.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_scaleout "$@"
cd "$work"

cat >so.json <<'EOF'
{ "logins": [ { "user": "sa", "password": "Passw0rd!", "database": "demo" } ],
  "databases": [ { "name": "demo", "tables": [
    { "schema": "dbo", "name": "big", "rows": 300000, "primary_key": [ "id" ],
      "columns": [ { "name": "id", "type": "int", "nullable": false, "gen": { "start": 1, "step": 1 } },
                   { "name": "v", "type": "nvarchar(30)", "gen": { "prefix": "value-" } } ] } ] } ] }
EOF
start_server "$work/so.json" --rate-limit-mbs 0.6
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"
D="csv://$work/out.csv"
slice() { # INDEX [extra flags…]: one slice in the background, its pid in $spid
  local i=$1; shift
  "$tdspipe" ingest --source-uri "$U" --source-table dbo.big --dest-uri "$D" --no-load-timestamp \
    --partition-index "$i" --partition-count 3 --run-id run7 --extract-parallelism 2 "$@" >"$work/s$i.out" 2>&1 &
  spid=$!
}

slice 0; p0=$spid
JOB_COMPLETION_INDEX=2 "$tdspipe" ingest --source-uri "$U" --source-table dbo.big --dest-uri "$D" --no-load-timestamp \
  --partition-count 3 --run-id run7 --extract-parallelism 2 >"$work/s2.out" 2>&1 &
p2=$!
slice 1; p1=$spid
sleep 1
kill -KILL $p1 2>/dev/null && ok "slice 1 killed mid-load" || bad "slice 1 ended before the kill"
wait $p1 2>/dev/null
wait $p0; same "slice 0 exit" $? 0
wait $p2; same "slice 2 (JOB_COMPLETION_INDEX) exit" $? 0
ls out.run7.part-*.csv >parts 2>/dev/null # (a killed slice may leave its sink's .tmp- file)
same "two parts committed" "$(cat parts | tr '\n' ' ')" "out.run7.part-00000-of-00003.csv out.run7.part-00002-of-00003.csv "
[ -e out.csv ] && bad "the destination exists before finalize" || ok "no destination before finalize"

run "finalize with a slice missing" 1 ingest --dest-uri "$D" --partition-count 3 --finalize run7
expect_err "the missing slice is named" "1 of 3 slices have not committed (index 1)"
[ -e out.csv ] && bad "a refused finalize wrote the destination" || ok "refused finalize wrote nothing"

run "slice 1 rerun" 0 ingest --source-uri "$U" --source-table dbo.big --dest-uri "$D" --no-load-timestamp \
  --partition-index 1 --partition-count 3 --run-id run7 --extract-parallelism 2
run "finalize" 0 ingest --dest-uri "$D" --partition-count 3 --finalize run7
same "every row once" "$(tail -n +2 out.csv | cut -d, -f1 | sort -n | uniq | wc -l) $(($(wc -l <out.csv) - 1))" "300000 300000"
same "ids 1..300000" "$(tail -n +2 out.csv | cut -d, -f1 | sort -n | sed -n '1p;$p' | tr '\n' ' ')" "1 300000 "
same "one header" "$(grep -c '^id,v$' out.csv)" 1
same "parts and stale temporary files removed" "$(ls out.run7.part-* 2>/dev/null | wc -l)" 0

# JSONL: two slices (windows of the clustered key, no partition flag), joined
for i in 0 1; do
  run "jsonl slice $i" 0 ingest --source-uri "$U" --source-table dbo.big --dest-uri "jsonl://$work/out.jsonl" \
    --no-load-timestamp --partition-index $i --partition-count 2 --run-id j1 --extract-parallelism 3
done
run "jsonl finalize" 0 ingest --dest-uri "jsonl://$work/out.jsonl" --partition-count 2 --finalize j1
same "jsonl: every row once" "$(sed 's/.*"id":\([0-9]*\).*/\1/' out.jsonl | sort -n | uniq | wc -l) $(wc -l <out.jsonl)" "300000 300000"

# SQLite: each slice replaces a table of its own (one writer at a time: the
# slices run one after the other here); slice 1 is killed mid-load, so its
# table is missing and finalize names it; rerun; finalize makes the three
# tables the destination table in one transaction
Q="sqlite:///$work/so.db"
dbslice() { # INDEX RUN [flags…] (exec: a background call's pid is tdspipe's own)
  local i=$1 r=$2; shift 2
  exec "$tdspipe" ingest --source-uri "$U" --source-table dbo.big --dest-uri "$Q" --dest-table big --no-load-timestamp \
    --partition-index "$i" --partition-count 3 --run-id "$r" --extract-parallelism 2 "$@"
}
(dbslice 0 r1 >/dev/null 2>&1); same "sqlite slice 0" $? 0
dbslice 1 r1 >/dev/null 2>&1 & kp=$!
sleep 1
kill -KILL $kp 2>/dev/null && ok "sqlite slice 1 killed mid-load" || bad "sqlite slice 1 ended before the kill"
wait $kp 2>/dev/null
(dbslice 2 r1 >/dev/null 2>&1); same "sqlite slice 2" $? 0
run "sqlite finalize with a slice missing" 1 ingest --dest-uri "$Q" --dest-table big --partition-count 3 --finalize r1
expect_err "sqlite: the missing slice is named" "1 of 3 slices have not committed (index 1)"
same "sqlite: no destination table yet" "$(sqlite3 so.db "select count(*) from sqlite_master where name = 'big'")" 0
(dbslice 1 r1 >/dev/null 2>&1); same "sqlite slice 1 rerun" $? 0
run "sqlite finalize" 0 ingest --dest-uri "$Q" --dest-table big --partition-count 3 --finalize r1
same "sqlite: every row once" "$(sqlite3 so.db 'select count(*), count(distinct id), min(id), max(id) from big')" \
  "300000|300000|1|300000"
same "sqlite: slice tables dropped" "$(sqlite3 so.db "select count(*) from sqlite_master where name like 'big__tdspipe%'")" 0
# append: ids 300001.. do not exist in the source, so load a second table's
# worth by bounds: run r-2 reads ids 1..150000 (replace), run r-3 150001..
for i in 0 1 2; do (dbslice $i r-2 --incremental-key id --interval-start 1 --interval-end 150000 >/dev/null 2>&1) ||
  bad "sqlite bounded slice $i"; done
run "sqlite finalize (replace, ids 1..150000)" 0 ingest --dest-uri "$Q" --dest-table big --partition-count 3 --finalize r-2
same "sqlite replaced" "$(sqlite3 so.db 'select count(*), max(id) from big')" "150000|150000"
for i in 0 1 2; do (dbslice $i r-3 --incremental-key id --interval-start 150001 --interval-end 300000 >/dev/null 2>&1) ||
  bad "sqlite bounded slice $i (r-3)"; done
run "sqlite finalize (append)" 0 ingest --dest-uri "$Q" --dest-table big --partition-count 3 --finalize r-3 \
  --incremental-strategy append
same "sqlite append: every row once" "$(sqlite3 so.db 'select count(*), count(distinct id), max(id) from big')" \
  "300000|300000|300000"
duck=${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}
if [ -s "$duck" ] && [ -x "$build/ddb_query" ]; then # DuckDB: one writer at a time too
  for i in 0 1; do
    run "duckdb slice $i" 0 ingest --source-uri "$U" --source-table dbo.big --dest-uri "duckdb:///$work/so.duckdb" \
      --dest-table main.big --no-load-timestamp --partition-index $i --partition-count 2 --run-id d1 --extract-parallelism 3
  done
  run "duckdb finalize" 0 ingest --dest-uri "duckdb:///$work/so.duckdb" --dest-table main.big --partition-count 2 --finalize d1
  same "duckdb: every row once" "$("$build/ddb_query" so.duckdb 'select count(*), count(distinct id) from main.big')" \
    "300000|300000"
  same "duckdb: slice tables dropped" \
    "$("$build/ddb_query" so.duckdb "select count(*) from information_schema.tables where table_name like 'big__tdspipe%'")" 0
fi
if [ -x "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -1)" ] && command -v psql >/dev/null; then
  pgdir=$(mktemp -d /tmp/tdspipe-pg.XXXXXX)
  if pgport=$(bash "$src/tests/sink/pg_server.sh" start "$pgdir" 2>"$work/pg.err"); then
    PG="postgresql://postgres@127.0.0.1:$pgport/postgres"
    pids_pg=()
    for i in 0 1 2 3; do
      "$tdspipe" ingest --source-uri "$U" --source-table dbo.big --dest-uri "$PG" --dest-table public.big \
        --no-load-timestamp --partition-index $i --partition-count 4 --run-id pg1 --extract-parallelism 2 \
        >"$work/pg$i.out" 2>&1 &
      pids_pg+=($!)
    done
    for p in "${pids_pg[@]}"; do wait "$p" || bad "postgres slice (pid $p)"; done
    run "postgres finalize" 0 ingest --dest-uri "$PG" --dest-table public.big --partition-count 4 --finalize pg1
    same "postgres: every row once" "$(psql "$PG" -Atc 'select count(*), count(distinct id) from public.big')" \
      "300000|300000"
    # merge at finalize, as for SQL Server below: public.mg holds ids
    # 290001..300000 as 'old'; 2 slices read 280001..295000
    run "postgres merge target" 0 ingest --source-uri "$U" --dest-uri "$PG" --dest-table public.mg --primary-key id \
      --source-table "query:SELECT id, CAST(N'old' AS nvarchar(30)) AS v FROM dbo.big WHERE id > 290000" --no-load-timestamp
    for i in 0 1; do "$tdspipe" ingest --source-uri "$U" --source-table dbo.big --dest-uri "$PG" --dest-table public.mg \
      --no-load-timestamp --partition-index $i --partition-count 2 --run-id pgm --extract-parallelism 2 \
      --incremental-key id --interval-start 280001 --interval-end 295000 >"$work/pgm$i.out" 2>&1 || bad "postgres merge slice $i"; done
    run "postgres merge finalize" 0 ingest --dest-uri "$PG" --dest-table public.mg --partition-count 2 --finalize pgm \
      --incremental-strategy merge --primary-key id
    same "postgres merge: count, distinct, min, max" \
      "$(psql "$PG" -Atc 'select count(*), count(distinct id), min(id), max(id) from public.mg')" "20000|20000|280001|300000"
    same "postgres merge: shared keys updated, the rest kept" \
      "$(psql "$PG" -Atc "select count(*), min(id) from public.mg where v = 'old'")" "5000|295001"
  else
    echo "skip PostgreSQL: $(head -3 "$work/pg.err")"
  fi
fi

# SQL Server destination (this tdstestd, a table per slice next to the
# source): 3 slices at once, slice 1 killed mid-load (its transaction rolls
# back: no table), finalize refused naming it, rerun, finalize (replace, one
# transaction): every row exactly once, the slice tables dropped
msq() { # QUERY → its rows as CSV lines (no header)
  rm -f "$work/q.csv"
  "$tdspipe" ingest --source-uri "$U" --source-table "query:$1" --dest-uri "csv://$work/q.csv" --dest-table x \
    --no-load-timestamp >/dev/null 2>&1 && tail -n +2 "$work/q.csv"
}
msslice() { # INDEX TABLE RUN [flags…]
  local i=$1 t=$2 r=$3; shift 3
  exec "$tdspipe" ingest --source-uri "$U" --source-table dbo.big --dest-uri "$U" --dest-table "$t" \
    --no-load-timestamp --partition-index "$i" --partition-count 3 --run-id "$r" --extract-parallelism 2 "$@"
}
msslice 0 dbo.cp ms1 >"$work/ms0.out" 2>&1 & m0=$!
msslice 1 dbo.cp ms1 >"$work/ms1.out" 2>&1 & m1=$!
msslice 2 dbo.cp ms1 >"$work/ms2.out" 2>&1 & m2=$!
sleep 1
kill -KILL $m1 2>/dev/null && ok "mssql slice 1 killed mid-load" || bad "mssql slice 1 ended before the kill"
wait $m1 2>/dev/null
wait $m0; same "mssql slice 0" $? 0
wait $m2; same "mssql slice 2" $? 0
run "mssql finalize with a slice missing" 1 ingest --dest-uri "$U" --dest-table dbo.cp --partition-count 3 --finalize ms1
expect_err "mssql: the missing slice is named" "1 of 3 slices have not committed (index 1)"
same "mssql: no destination table yet" "$(msq "SELECT count(*) AS n FROM sys.tables WHERE name = 'cp'")" 0
(msslice 1 dbo.cp ms1 >/dev/null 2>&1); same "mssql slice 1 rerun" $? 0
run "mssql finalize" 0 ingest --dest-uri "$U" --dest-table dbo.cp --partition-count 3 --finalize ms1
same "mssql: count, min, max" "$(msq 'SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM dbo.cp')" "300000,1,300000"
same "mssql: every row once" "$(msq 'SELECT id FROM dbo.cp' | sort -n | uniq | wc -l)" 300000
same "mssql: slice tables dropped" "$(msq 'SELECT name FROM sys.tables' | grep -c '^cp__tdspipe')" 0
# merge at finalize onto a table with overlapping keys: dbo.mg holds ids
# 290001..300000 as 'old'; 3 slices read 280001..295000; the 5000 shared
# keys are updated (not doubled), the others inserted, 295001.. kept
run "mssql merge target" 0 ingest --source-uri "$U" --dest-uri "$U" --dest-table dbo.mg --primary-key id \
  --source-table "query:SELECT id, CAST(N'old' AS nvarchar(30)) AS v FROM dbo.big WHERE id > 290000" --no-load-timestamp
for i in 0 1 2; do (msslice $i dbo.mg mg1 --incremental-key id --interval-start 280001 \
  --interval-end 295000 >/dev/null 2>&1) || bad "mssql merge slice $i"; done
run "mssql merge finalize without a key" 2 ingest --dest-uri "$U" --dest-table dbo.mg --partition-count 3 \
  --finalize mg1 --incremental-strategy merge
expect_err "the key asked for" "a merge at finalize needs --primary-key"
run "mssql delete+insert finalize (not yet)" 2 ingest --dest-uri "$U" --dest-table dbo.mg --partition-count 3 \
  --finalize mg1 --incremental-strategy delete+insert --incremental-key id
expect_err "delete+insert refused" "supports replace, append and merge, not delete+insert"
run "mssql merge finalize with a predicate" 2 ingest --dest-uri "$U" --dest-table dbo.mg --partition-count 3 \
  --finalize mg1 --incremental-strategy merge --primary-key id --incremental-predicate "target.id > 0"
expect_err "predicate refused" "--finalize does not take --incremental-predicate"
run "mssql merge finalize" 0 ingest --dest-uri "$U" --dest-table dbo.mg --partition-count 3 --finalize mg1 \
  --incremental-strategy merge --primary-key id
same "mssql merge: count, min, max" "$(msq 'SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM dbo.mg')" \
  "20000,280001,300000"
same "mssql merge: every row once" "$(msq 'SELECT id FROM dbo.mg' | sort -n | uniq | wc -l)" 20000
same "mssql merge: shared keys updated, the rest kept" \
  "$(msq "SELECT count(*) AS n, min(id) AS lo FROM dbo.mg WHERE v = N'old'")" "5000,295001"
same "mssql merge: slice tables dropped" "$(msq 'SELECT name FROM sys.tables' | grep -c '^mg__tdspipe')" 0

# refusals (exit 2, before anything is read)
run "--partition-count without --run-id" 2 ingest --source-uri "$U" --source-table dbo.big --dest-uri "$D" \
  --partition-index 0 --partition-count 2
expect_err "run id asked for" "--partition-count needs --run-id"
run "index out of range" 2 ingest --source-uri "$U" --source-table dbo.big --dest-uri "$D" --partition-index 2 \
  --partition-count 2 --run-id r
expect_err "index checked" "--partition-index must be below --partition-count (2)"
run "a database destination without --dest-table" 2 ingest --source-uri "$U" --source-table dbo.big \
  --dest-uri "sqlite:///$work/x.db" --partition-index 0 --partition-count 2 --run-id r
expect_err "--dest-table asked for" "--partition-count with a database destination needs --dest-table"
run "finalize without a count" 2 ingest --dest-uri "$D" --finalize run7
expect_err "count asked for" "--finalize RUN_ID needs --dest-uri and --partition-count"
finish
