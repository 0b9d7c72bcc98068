#!/usr/bin/env bash
# e2e_ddb_threads.sh — threads=N on duckdb:// and parquet:// URIs: DuckDB
# inserts (or encodes Parquet row groups) on N threads at once. The rows
# may land in another order, so every check here compares multisets: the
# same rows as a threads=1 load, each exactly once (EXCEPT ALL both ways,
# counts and sums), across many row groups (300,000 rows; a row group is
# 122,880). Also: every all-types value read back after a threads=2 load
# (alltypes_check.py sorts by id), merge with threads=2 twice (no key
# doubled), bad parameter values refused on one line before any file is
# made, and a connection dropped mid-load leaving the earlier table whole.
#
#   tests/cli/e2e_ddb_threads.sh BUILD_DIR SRC_DIR
#
# Skipped (said so) when libduckdb.so is missing (scripts/get_duckdb.sh).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_ddb_threads "$@"
need_duckdb
q() { "$build/ddb_query" :memory: "$1"; }
rows=300000
narrow=$src/tests/server/scenarios/narrow.json
TDSTESTD_ROWS_NARROW=$rows start_server "$narrow"
N="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"
fault_scenario "$narrow" "$work/fault.json" close_after_rows 200000
TDSTESTD_ROWS_NARROW=$rows start_server "$work/fault.json"
F="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"
scen=$src/tests/server/scenarios/alltypes.json
start_server "$scen"
A="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
cd "$work"

# ingest NAME SOURCE TABLE DEST_URI DEST_TABLE [flags…]: must succeed
ingest() {
  local name=$1 from=$2 table=$3 uri=$4 dt=$5; shift 5
  if "$tdspipe" ingest --source-uri "$from" --source-table "dbo.$table" --dest-uri "$uri" --dest-table "$dt" \
    --progress log "$@" >"$work/out" 2>"$work/err"; then ok "$name: load"; else bad "$name: load (exit $?)" "$(cat "$work/err")"; fi
}
# same_rows NAME A B: relations A and B (read_parquet(…) or db.table of
# the files attached as one and two) hold the same multiset of rows
same_rows() {
  local got
  got=$(q "attach '$work/one.duckdb' as one (read_only); attach '$work/two.duckdb' as two (read_only);
           select (select count(*) from (from $2 except all from $3)) || ' ' ||
                  (select count(*) from (from $3 except all from $2)) || ' ' || (select count(*) from $3)")
  same "$1: the same rows as one thread, each once" "$got" "0 0 $rows"
}

# ------------------------------------------------------------ DuckDB
ingest "duckdb threads=1" "$N" narrow "duckdb:///one.duckdb" main.narrow --no-load-timestamp
ingest "duckdb threads=2" "$N" narrow "duckdb:///two.duckdb?threads=2" main.narrow --no-load-timestamp
same_rows "duckdb threads=2" one.main.narrow two.main.narrow
same "duckdb threads=2: ids 1..$rows once each" \
  "$("$build/ddb_query" two.duckdb "select count(distinct id), min(id), max(id), sum(big) = sum((id - 1) * 1000003::hugeint) from narrow")" \
  "$rows|1|$rows|true"
# the order: kept by one reader; two threads each fill their own row
# groups, so a scan meets one thread's chunks, then the other's (both
# threads take chunks: they wait on the same queue and are both woken)
same "duckdb threads=1: the rows in the source's order" \
  "$("$build/ddb_query" one.duckdb "select count(*) filter (where id <> rn) from (select id, row_number() over () rn from narrow)")" "0"
same "duckdb threads=2: two inserting threads (the rows' order moved)" \
  "$("$build/ddb_query" two.duckdb "select count(*) filter (where id <> rn) > 0 from (select id, row_number() over () rn from narrow)")" "true"
same "the rows span several row groups (threads have row groups to split)" \
  "$("$build/ddb_query" one.duckdb "select count(distinct row_group_id) >= 3 from pragma_storage_info('narrow')")" "true"
ingest "duckdb threads=2 merge" "$N" narrow "duckdb:///two.duckdb?threads=2" main.narrow --no-load-timestamp \
  --incremental-strategy merge --primary-key id
ingest "duckdb threads=2 merge again" "$N" narrow "duckdb:///two.duckdb?threads=2" main.narrow --no-load-timestamp \
  --incremental-strategy merge --primary-key id
same_rows "duckdb threads=2 merged twice" one.main.narrow two.main.narrow
ingest "duckdb threads=3 append" "$N" narrow "duckdb:///two.duckdb?threads=3" main.narrow --no-load-timestamp \
  --incremental-strategy append
same "duckdb threads=3 append: every row twice" \
  "$("$build/ddb_query" two.duckdb "select count(*), count(distinct id), bool_and(c = 2) from (select id, count(*) c from narrow group by id)")" \
  "$rows|$rows|true"

# every all-types value, through the stage and the widening paths
ingest "duckdb threads=2 all types" "$A" alltypes "duckdb:///at.duckdb?threads=2" main.alltypes --page-size 4
if python3 "$src/tests/cli/alltypes_check.py" "$scen" alltypes duckdb at.duckdb "$build/ddb_query" main.alltypes \
  >"$work/chk" 2>&1; then ok "duckdb threads=2: every all-types value ($(tail -1 "$work/chk"))"
else bad "duckdb threads=2: all-types values" "$(head -12 "$work/chk")"; fi

# a connection dropped after 200,000 rows: the earlier table stays whole
cp one.duckdb before.duckdb
"$tdspipe" ingest --source-uri "$F" --source-table dbo.narrow --dest-uri "duckdb:///one.duckdb?threads=2" \
  --dest-table main.narrow --no-load-timestamp --progress log >"$work/out" 2>"$work/err"
rc=$?
[ $rc = 1 ] && [ "$(grep -c '' "$work/err")" = 1 ] && ok "duckdb threads=2: a dropped connection fails the load on one line" ||
  bad "duckdb threads=2 dropped: exit $rc" "$(cat "$work/err")"
same "duckdb threads=2 dropped: the earlier table whole" \
  "$("$build/ddb_query" one.duckdb "select count(*), sum(id) from narrow")" "$rows|$((rows * (rows + 1) / 2))"

# ------------------------------------------------------------ Parquet
ingest "parquet threads=1" "$N" narrow "parquet://one.parquet" narrow --no-load-timestamp
ingest "parquet threads=2" "$N" narrow "parquet://two.parquet?threads=2&compression=snappy" narrow --no-load-timestamp
same_rows "parquet threads=2" "read_parquet('$work/one.parquet')" "read_parquet('$work/two.parquet')"
same "parquet threads=2: snappy kept" "$(q "select distinct compression from parquet_metadata('$work/two.parquet')")" "SNAPPY"
ingest "parquet threads=2 all types" "$A" alltypes "parquet://at.parquet?threads=2" alltypes --page-size 4
if python3 "$src/tests/cli/alltypes_check.py" "$scen" alltypes duckdb :memory: "$build/ddb_query" \
  "read_parquet('$work/at.parquet')" >"$work/chk" 2>&1; then ok "parquet threads=2: every all-types value ($(tail -1 "$work/chk"))"
else bad "parquet threads=2: all-types values" "$(head -12 "$work/chk")"; fi
cp two.parquet two.before
"$tdspipe" ingest --source-uri "$F" --source-table dbo.narrow --dest-uri "parquet://two.parquet?threads=2" \
  --dest-table narrow --no-load-timestamp --progress log >"$work/out" 2>"$work/err"
rc=$?
[ $rc = 1 ] && cmp -s two.parquet two.before && [ -z "$(ls -A | grep -F '.tmp-')" ] &&
  ok "parquet threads=2: a dropped connection leaves the earlier file and no temp file" ||
  bad "parquet threads=2 dropped: exit $rc" "$(cat "$work/err"; ls -A)"

# the path before '?' percent-decoded (SQLAlchemy's rule): '?' in a name
ingest "duckdb path %3F" "$N" narrow "duckdb:///q%3Fx%20y.duckdb?threads=2" main.narrow --no-load-timestamp --sql-limit 10
same "duckdb path %3F: the file is 'q?x y.duckdb'" "$("$build/ddb_query" 'q?x y.duckdb' "select count(*) from narrow")" "10"

# ------------------------------------------------------------ refused
for u in "duckdb:///bad.duckdb?threads=0" "duckdb:///bad.duckdb?threads=65" "duckdb:///bad.duckdb?threads=two" \
  "duckdb:///bad.duckdb?threads=" "duckdb:///bad.duckdb?threads" "duckdb:///bad.duckdb?thread=2" \
  "parquet://bad.parquet?threads=0" "parquet://bad.parquet?threads" \
  "parquet://bad.parquet?threads=99999999999"; do
  run "refused: $u" 2 ingest --source-uri "$N" --source-table dbo.narrow --dest-uri "$u" --dest-table main.t
  case "$u" in
    *thread=2) expect_err "refused: $u: says which parameter" "unknown URI parameter 'thread' (threads)" ;;
    *) expect_err "refused: $u: one line" "threads must be 1 to 64" ;;
  esac
  [ ! -e bad.duckdb ] && [ ! -e bad.parquet ] && ok "refused: $u: no file made" || bad "refused: $u: a file was made"
done

finish
