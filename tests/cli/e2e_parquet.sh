#!/usr/bin/env bash
# e2e_parquet.sh — parquet:// end to end: build/tdspipe loads the all-types
# table (tests/server/scenarios/alltypes.json) from build/tdstestd into
# Parquet files, and tests/cli/alltypes_check.py reads every value back
# through DuckDB's own Parquet reader (build/ddb_query on read_parquet)
# and compares it with the scenario, as e2e_alltypes.sh does for the other
# destinations. Also: the Parquet types, the rows' order, the URI
# parameters (compression, row_group_size), append's part files, replace
# removing them, and a connection dropped mid-load leaving no file and an
# earlier file unchanged.
#
#   tests/cli/e2e_parquet.sh BUILD_DIR SRC_DIR
#
# Skipped (said so) when libduckdb.so is missing (scripts/get_duckdb.sh).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_parquet "$@"
scen=$src/tests/server/scenarios/alltypes.json
check=$src/tests/cli/alltypes_check.py
need_duckdb
q() { "$build/ddb_query" :memory: "$1"; }

start_server "$scen"
A="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
fault_scenario "$scen" "$work/fault.json" close_after_rows 10
start_server "$work/fault.json"
F="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
mkdir "$work/dest" && cd "$work/dest" # destinations only: temp files show

# load NAME SOURCE DEST_URI STRATEGY [flags…]: exit status and stderr kept
load() {
  local name=$1 from=$2 uri=$3 st=$4; shift 4
  "$tdspipe" ingest --source-uri "$from" --source-table dbo.alltypes --dest-uri "$uri" --dest-table alltypes \
    --incremental-strategy "$st" --page-size 4 --progress log "$@" >"$work/out" 2>"$work/err"
  rc=$?
}
loaded() { load "$@"; [ $rc = 0 ] && ok "$1: load" || bad "$1: load (exit $rc)" "$(cat "$work/err")"; }
# verify NAME FILES_SQL: every value read back equals the scenario
verify() {
  if python3 "$check" "$scen" alltypes duckdb :memory: "$build/ddb_query" "read_parquet($2)" >"$work/chk" 2>&1; then
    ok "$1: every value ($(tail -1 "$work/chk"))"
  else
    bad "$1: values" "$(head -12 "$work/chk")"
  fi
}
no_temp() {
  [ -z "$(ls -A | grep -F '.tmp-')" ] && ok "$1: no temporary file left" || bad "$1: left behind" "$(ls -A)"
}

# ------------------------------------------------------------ replace
loaded "replace" "$A" "parquet://at.parquet" replace
verify "replace" "'at.parquet'"
same "replace: Parquet types (datetime2(7) with 9999-12-31 is TIMESTAMP, time(7) TIME_NS)" \
  "$(q "select typeof(c_datetime2), typeof(c_time), typeof(c_dto), typeof(c_decimal), typeof(c_guid), typeof(c_money), typeof(c_bit), typeof(c_date) from read_parquet('at.parquet') limit 1")" \
  "TIMESTAMP|TIME_NS|TIMESTAMP WITH TIME ZONE|DECIMAL(38,10)|UUID|DECIMAL(19,4)|BOOLEAN|DATE"
same "replace: Parquet logical types" \
  "$(q "select string_agg(name || ':' || coalesce(logical_type, converted_type, type), ' ' order by name) from parquet_schema('at.parquet') where name in ('c_guid', 'c_dto', 'c_decimal')")" \
  "c_decimal:DecimalType(scale=10, precision=38) c_dto:TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>)) c_guid:UUIDType()"
same "replace: rows in the source's order (across the widening)" \
  "$(q "select string_agg(id::varchar, ',') from read_parquet('at.parquet')")" \
  "$(seq -s, 1 20),1000001,1000002,1000003"
same "replace: zstd by default" "$(q "select distinct compression from parquet_metadata('at.parquet')")" "ZSTD"
no_temp "replace"

# datetime2(7) values that all fit stay nanoseconds (the first 7 rows do)
loaded "ns" "$A" "parquet:///$work/dest/ns.parquet" replace --sql-limit 7
same "absolute path, datetime2(7) within range: TIMESTAMP_NS" \
  "$(q "select typeof(c_datetime2), count(*) from read_parquet('$work/dest/ns.parquet') group by all")" "TIMESTAMP_NS|7"

# ------------------------------------------------------------ parameters
# row groups hold whole data chunks of 2,048 rows: 10,000 rows at 4,096
TDSTESTD_ROWS_NARROW=10000 start_server "$src/tests/server/scenarios/narrow.json"
"$tdspipe" ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable" --source-table dbo.narrow \
  --dest-uri "parquet://p%20q.parquet?compression=snappy&row_group_size=4096" --dest-table narrow \
  --progress log >"$work/out" 2>"$work/err" && ok "parameters: load" || bad "parameters: load" "$(cat "$work/err")"
same "compression=snappy, row_group_size=4096, percent-decoded path" \
  "$(q "select distinct compression, max(row_group_num_rows), count(distinct row_group_id), sum(row_group_num_rows) // count(distinct path_in_schema) from parquet_metadata('p q.parquet') group by all")" \
  "SNAPPY|4096|3|10000"
load "bad compression" "$A" "parquet://x.parquet?compression=zip" replace
[ $rc != 0 ] && grep -q "compression must be" "$work/err" && ok "bad compression refused" ||
  bad "bad compression: exit $rc" "$(cat "$work/err")"
load "merge" "$A" "parquet://x.parquet" merge --incremental-key id
[ $rc != 0 ] && grep -q "replace and append" "$work/err" && ok "merge refused" || bad "merge: exit $rc" "$(cat "$work/err")"
[ ! -e x.parquet ] && ok "refused loads write nothing" || bad "a refused load wrote x.parquet"

# ------------------------------------------------------------ append
loaded "append (first)" "$A" "parquet://ap.parquet" append
loaded "append (second)" "$A" "parquet://ap.parquet" append
loaded "append (third)" "$A" "parquet://ap.parquet" append
same "append: the file, then parts" "$(ls ap*)" "$(printf 'ap.parquet\nap.part-0001.parquet\nap.part-0002.parquet')"
same "append: every part complete" "$(q "select count(*), count(distinct id) from read_parquet(['ap.parquet', 'ap.part-*.parquet'])")" "69|23"
verify "append part 2" "'ap.part-0002.parquet'"
loaded "replace over parts" "$A" "parquet://ap.parquet" replace
same "replace removes the parts" "$(ls ap*)" "ap.parquet"

# ------------------------------------------------------------ a dropped connection
cp at.parquet at.before
load "dropped replace" "$F" "parquet://at.parquet" replace
[ $rc = 1 ] && [ "$(grep -c '' "$work/err")" = 1 ] && ok "dropped connection fails the load" ||
  bad "dropped connection: exit $rc" "$(cat "$work/err")"
cmp -s at.parquet at.before && ok "dropped replace: file unchanged" || bad "dropped replace: file changed"
load "dropped append" "$F" "parquet://at.parquet" append
[ $rc = 1 ] && ok "dropped append fails" || bad "dropped append: exit $rc" "$(cat "$work/err")"
[ ! -e at.part-0001.parquet ] && cmp -s at.parquet at.before && ok "dropped append: no part, file unchanged" ||
  bad "dropped append left" "$(ls -A)"
load "dropped new" "$F" "parquet://new.parquet" replace
[ $rc = 1 ] && [ ! -e new.parquet ] && ok "a failed first load makes no file" || bad "dropped new: exit $rc" "$(ls -A)"
load "dropped into new directories" "$F" "parquet://nd/sub/x.parquet" replace
[ $rc = 1 ] && [ ! -e nd ] && ok "a failed load removes the directories it made" || bad "new dirs: exit $rc" "$(ls -A)"
loaded "into new directories" "$A" "parquet://nd/sub/x.parquet" replace
same "missing directories are made (as csv:// does)" "$(q "select count(*) from read_parquet('nd/sub/x.parquet')")" 23
no_temp "dropped loads"

# the checker reads Parquet for real: a changed value is caught
q "copy (select * replace (case when c_int < 0 then c_int + 1 else c_int end as c_int) from read_parquet('at.parquet')) to 'wrong.parquet' (format parquet)" >/dev/null
python3 "$check" "$scen" alltypes duckdb :memory: "$build/ddb_query" "read_parquet('wrong.parquet')" >"$work/chk" 2>&1 &&
  bad "checker misses a changed int" || { grep -q "c_int" "$work/chk" && ok "checker catches a changed int" ||
    bad "checker output" "$(cat "$work/chk")"; }

finish
