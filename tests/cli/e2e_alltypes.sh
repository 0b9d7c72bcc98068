#!/usr/bin/env bash
# e2e_alltypes.sh — every sink × strategy end to end: build/tdspipe loads
# the all-types table (tests/server/scenarios/alltypes.json: every SQL
# Server type, generated rows plus minima, maxima and NULLs) from
# build/tdstestd, and tests/cli/alltypes_check.py reads it back from the
# real destination (the files; SQLite; DuckDB through libduckdb, via
# build/ddb_query; PostgreSQL through psql) and compares every value with
# the scenario. Then the same loads with the connection dropped by the
# server in the middle: exit 1 and the destination exactly as before.
#
#   tests/cli/e2e_alltypes.sh BUILD_DIR SRC_DIR
#
# PostgreSQL is skipped (said so) when Debian's postgresql is not
# installed, DuckDB when libduckdb.so is missing (scripts/get_duckdb.sh).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_alltypes "$@"
scen=$src/tests/server/scenarios/alltypes.json
check=$src/tests/cli/alltypes_check.py

start_server "$scen"
A="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
fault_scenario "$scen" "$work/fault.json" close_after_rows 10
start_server "$work/fault.json"
F="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
mkdir "$work/dest" && cd "$work/dest" # destinations only: temp files show

# load NAME DEST_URI DEST_TABLE STRATEGY [more flags…]: a load that must succeed
load() {
  local name=$1 uri=$2 table=$3 st=$4; shift 4
  if "$tdspipe" ingest --source-uri "$A" --source-table dbo.alltypes --dest-uri "$uri" --dest-table "$table" \
       --incremental-strategy "$st" --page-size 4 --progress log "$@" >"$work/out" 2>"$work/err"; then
    ok "$name: load"
  else
    bad "$name: load (exit $?)" "$(cat "$work/err")"
  fi
}
# verify NAME SINK TARGET [TABLE]: every value read back equals the scenario
verify() {
  local name=$1 sink=$2 target=$3 table=${4:-alltypes}
  if python3 "$check" "$scen" alltypes "$sink" "$target" "$build/ddb_query" "$table" >"$work/chk" 2>&1; then
    ok "$name: every value ($(tail -1 "$work/chk"))"
  else
    bad "$name: values" "$(head -12 "$work/chk")"
  fi
}
# dropped NAME DEST_URI DEST_TABLE STRATEGY [flags…]: the server drops the
# connection at row 10 of 23; exit 1, one line on stderr
dropped() {
  local name=$1 uri=$2 table=$3 st=$4; shift 4
  "$tdspipe" ingest --source-uri "$F" --source-table dbo.alltypes --dest-uri "$uri" --dest-table "$table" \
    --incremental-strategy "$st" --page-size 4 --progress log "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ $rc = 1 ] && [ "$(grep -c '' "$work/err")" = 1 ]; then ok "$name: dropped connection fails the load"
  else bad "$name: dropped connection: exit $rc" "$(cat "$work/err")"; fi
}

# ----------------------------------------------------------- files
for ext in csv csv.gz jsonl jsonl.gz; do
  sink=${ext%.gz}
  for st in replace append; do
    f=$st.$ext
    load "$ext $st" "$sink://$f" alltypes $st
    verify "$ext $st" "$sink" "$f"
    cp "$f" "$f.before"
    dropped "$ext $st" "$sink://$f" alltypes $st
    cmp -s "$f" "$f.before" && ok "$ext $st: file unchanged after the drop" || bad "$ext $st: file changed after the drop"
    [ -z "$(ls -A | grep -v -E '\.(csv|jsonl)(\.gz)?(\.before)?$')" ] && ok "$ext $st: no temporary file left" ||
      bad "$ext $st: left behind" "$(ls -A | grep -v -E '\.(csv|jsonl)(\.gz)?(\.before)?$')"
  done
  dropped "$ext new file" "$sink://new.$ext" alltypes replace
  [ ! -e "new.$ext" ] && ok "$ext: a failed first load makes no file" || bad "$ext: a failed first load left a file"
done

# -------------------------------------------------- SQL destinations
# sql_sink NAME URI SINK TARGET TABLE_PREFIX QUALIFY: replace, append (new
# table), merge (onto a partial table: every row ends up exact), and
# delete+insert (the whole id window over a full table), each read back;
# then each strategy with the connection dropped, the table re-checked.
sql_sink() {
  local name=$1 uri=$2 sink=$3 target=$4 pre=$5
  load "$name replace" "$uri" "${pre}at_replace" replace
  verify "$name replace" "$sink" "$target" "${pre}at_replace"
  load "$name append" "$uri" "${pre}at_append" append
  verify "$name append (new table)" "$sink" "$target" "${pre}at_append"
  load "$name merge (part)" "$uri" "${pre}at_merge" replace --sql-limit 7
  load "$name merge" "$uri" "${pre}at_merge" merge --incremental-key id
  verify "$name merge onto 7 rows" "$sink" "$target" "${pre}at_merge"
  load "$name delete+insert (seed)" "$uri" "${pre}at_di" replace
  load "$name delete+insert" "$uri" "${pre}at_di" delete+insert --incremental-key id --interval-start 1 --interval-end 2000000
  verify "$name delete+insert" "$sink" "$target" "${pre}at_di"
  for st in replace append merge delete+insert; do
    local t=${pre}at_replace extra=()
    [ $st = append ] && t=${pre}at_append
    # merge from the first id: the read itself meets the fault (past its
    # cursor the table has one row, below the fault's 10)
    [ $st = merge ] && { t=${pre}at_merge; extra=(--incremental-key id --interval-start 1); }
    [ $st = delete+insert ] && { t=${pre}at_di; extra=(--incremental-key id --interval-start 1 --interval-end 2000000); }
    dropped "$name $st" "$uri" "$t" $st "${extra[@]}"
    verify "$name $st: unchanged after the drop" "$sink" "$target" "$t"
  done
  dropped "$name new table" "$uri" "${pre}at_never" replace
}

sql_sink sqlite "sqlite:///at.db" sqlite at.db ""
same "sqlite: a failed first load makes no table" \
  "$(sqlite3 at.db "select count(*) from sqlite_master where name like '%at_never%'")" 0
dropped "sqlite new file" "sqlite:///never.db" t replace
ls never.db* >/dev/null 2>&1 && bad "sqlite: a failed first load left a file" || ok "sqlite: a failed first load makes no file"

duck=${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}
if [ -s "$duck" ] && [ -x "$build/ddb_query" ]; then
  export TDSPIPE_DUCKDB_LIB=$duck
  sql_sink duckdb "duckdb:///at.duckdb" duckdb at.duckdb "main."
  same "duckdb: datetime2(7) with 9999-12-31 is TIMESTAMP, time(7) TIME_NS" \
    "$("$build/ddb_query" at.duckdb "select typeof(c_datetime2), typeof(c_time), typeof(c_dto), typeof(c_decimal), typeof(c_guid) from main.at_replace limit 1")" \
    "TIMESTAMP|TIME_NS|TIMESTAMP WITH TIME ZONE|DECIMAL(38,10)|UUID"
  same "duckdb: a failed first load makes no table" \
    "$("$build/ddb_query" at.duckdb "select count(*) from information_schema.tables where table_name like '%at_never%'")" 0
else
  echo "skip DuckDB: no libduckdb.so (scripts/get_duckdb.sh) or build/ddb_query"
fi

if [ -x "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -1)" ] && command -v psql >/dev/null; then
  pgdir=$(mktemp -d /tmp/tdspipe-pg.XXXXXX)
  if pgport=$(bash "$src/tests/sink/pg_server.sh" start "$pgdir" 2>"$work/pg.err"); then
    PG="postgresql://postgres@127.0.0.1:$pgport/postgres"
    sql_sink postgresql "$PG" postgresql "$PG" "public."
    same "postgresql: a failed first load makes no table" \
      "$(psql "$PG" -Atc "select count(*) from information_schema.tables where table_name like '%at_never%'")" 0
  else
    echo "skip PostgreSQL: $(head -3 "$work/pg.err")"
  fi
else
  echo "skip PostgreSQL: not installed"
fi

# the checker itself must catch a wrong value (else the above proves nothing)
sed '2s/01:02:03.1234567/01:02:03.1234568/' replace.csv >wrong.csv
python3 "$check" "$scen" alltypes csv wrong.csv >"$work/chk" 2>&1 && bad "checker misses a changed 100 ns digit" ||
  { grep -q "c_time" "$work/chk" && ok "checker catches a changed 100 ns digit" || bad "checker output" "$(cat "$work/chk")"; }

finish
