#!/usr/bin/env bash
# e2e_schema_contract.sh — `tdspipe ingest --schema-contract` end to end
# (docs/schema-evolution.md): build/tdspipe reads two versions of a table
# from build/tdstestd — v1 (id int key, n int, s varchar(10),
# d decimal(10,2)) and v2 (n bigint, s varchar(50), d decimal(18,2) and a
# new column extra) — and loads v1, then v2 with append, into SQLite,
# DuckDB (when libduckdb is there) and SQL Server (tdstestd itself), under
# each contract; the tables are read back through the destination
# (sqlite3, build/ddb_query, and tdspipe from tdstestd into SQLite).
#
#   tests/cli/e2e_schema_contract.sh BUILD_DIR SRC_DIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" schema-contract "$@"
set -u

cat >"$work/scen.json" <<'JSON'
{
  "logins": [ { "user": "sa", "password": "Passw0rd!", "database": "ev" } ],
  "databases": [ { "name": "ev", "tables": [
    { "schema": "dbo", "name": "v1",
      "columns": [ { "name": "id", "type": "int", "nullable": false }, { "name": "n", "type": "int" },
                   { "name": "s", "type": "varchar(10)" }, { "name": "d", "type": "decimal(10,2)" } ],
      "primary_key": [ "id" ],
      "data": [ [ 1, 10, "abc", "1.50" ], [ 2, 20, "de", "2.25" ] ] },
    { "schema": "dbo", "name": "v2",
      "columns": [ { "name": "id", "type": "int", "nullable": false }, { "name": "n", "type": "bigint" },
                   { "name": "s", "type": "varchar(50)" }, { "name": "d", "type": "decimal(18,2)" },
                   { "name": "extra", "type": "nvarchar(20)" } ],
      "primary_key": [ "id" ],
      "data": [ [ 3, 3000000000, "a string longer than ten", "12345678901.25", "x" ],
                [ 4, 40, "fits", "4.00", null ], [ 5, 50, "ok", "5.50", "y" ] ] }
  ] } ]
}
JSON
start_server "$work/scen.json"
SRC="mssql://sa:Passw0rd%21@127.0.0.1:$port/ev?encrypt=disable"

have_duckdb=
[ -x "$build/ddb_query" ] && "$build/ddb_query" "$work/probe.duckdb" "SELECT 1" >/dev/null 2>&1 && have_duckdb=1

# ingest VERSION DEST_URI DEST_TABLE [flags…]
ingest() {
  local v=$1 uri=$2 table=$3; shift 3
  "$tdspipe" ingest --source-uri "$SRC" --source-table "dbo.$v" --dest-uri "$uri" --dest-table "$table" \
    --no-load-timestamp "$@" >"$work/out" 2>"$work/err"
}

# read_rows KIND: the table's rows "id|n|s|d[|extra]", NULL as \N;
# read_types KIND: "name type" per column
read_rows() {
  case $1 in
    sqlite) sqlite3 -separator '|' -cmd '.nullvalue \\N' "$work/t.db" "SELECT * FROM ev ORDER BY id" ;;
    duckdb) "$build/ddb_query" "$work/t.duckdb" "SELECT * FROM ev ORDER BY id" ;;
    mssql)
      rm -f "$work/read.db"
      "$tdspipe" ingest --source-uri "$SRC" --source-table "query:SELECT * FROM dbo.ev ORDER BY id" \
        --dest-uri "sqlite:///$work/read.db" --dest-table r --no-load-timestamp >/dev/null 2>&1
      sqlite3 -separator '|' -cmd '.nullvalue \\N' "$work/read.db" "SELECT * FROM r ORDER BY id" ;;
  esac
}
read_types() {
  case $1 in
    sqlite) sqlite3 "$work/t.db" "SELECT name || ' ' || type FROM pragma_table_info('ev')" ;;
    duckdb) "$build/ddb_query" "$work/t.duckdb" \
      "SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = 'ev' ORDER BY ordinal_position" ;;
    mssql)
      rm -f "$work/read.db"
      "$tdspipe" ingest --source-uri "$SRC" --source-table "query:SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'ev' ORDER BY ORDINAL_POSITION" \
        --dest-uri "sqlite:///$work/read.db" --dest-table r --no-load-timestamp >/dev/null 2>&1
      sqlite3 -separator '|' -cmd '.nullvalue \\N' "$work/read.db" \
        "SELECT column_name || ' ' || data_type || COALESCE('(' || character_maximum_length || ')', '') || CASE WHEN data_type = 'decimal' THEN '(' || numeric_precision || ',' || numeric_scale || ')' ELSE '' END FROM r" ;;
  esac
}

V1_ROWS='1|10|abc|1.50
2|20|de|2.25'
EVOLVED='1|10|abc|1.50|\N
2|20|de|2.25|\N
3|3000000000|a string longer than ten|12345678901.25|x
4|40|fits|4.00|\N
5|50|ok|5.50|y'

# check KIND URI TABLE TYPES_V1 TYPES_EVOLVED ROW3_DISCARDED
check() {
  local k=$1 uri=$2 table=$3 t1=$4 t2=$5 r3=$6
  # v1, then v2 frozen: refused in one line naming the columns, nothing changes
  ingest v1 "$uri" "$table"; same "$k: v1 loads" "$?" 0
  ingest v2 "$uri" "$table" --incremental-strategy append --schema-contract freeze
  same "$k: freeze refuses (exit 1: a failed load, as ingestr)" "$?" 1
  expect_err "$k: freeze names the new column" "new columns: extra"
  same "$k: freeze leaves the rows" "$(read_rows "$k")" "$V1_ROWS"
  same "$k: freeze leaves the types" "$(read_types "$k")" "$t1"
  # discard_value: no new column; values the old types cannot hold are NULL
  ingest v2 "$uri" "$table" --incremental-strategy append --schema-contract discard_value
  same "$k: discard_value loads" "$?" 0
  same "$k: discard_value rows" "$(read_rows "$k")" "$V1_ROWS
$r3
4|40|fits|4.00
5|50|ok|5.50"
  same "$k: discard_value keeps the types" "$(read_types "$k")" "$t1"
  # discard_row: rows with a value in the new column (3, 5) are skipped
  ingest v1 "$uri" "$table"
  ingest v2 "$uri" "$table" --incremental-strategy append --schema-contract discard_row
  same "$k: discard_row loads" "$?" 0
  same "$k: discard_row rows" "$(read_rows "$k")" "$V1_ROWS
4|40|fits|4.00"
  # evolve (the default): columns added, types widened, every value kept
  ingest v1 "$uri" "$table"
  ingest v2 "$uri" "$table" --incremental-strategy append
  same "$k: evolve loads" "$?" 0
  same "$k: evolve rows" "$(read_rows "$k")" "$EVOLVED"
  same "$k: evolve types" "$(read_types "$k")" "$t2"
  # a full refresh is not constrained: the table is the source's again
  ingest v1 "$uri" "$table" --full-refresh --schema-contract freeze
  same "$k: full refresh ignores freeze" "$?" 0
  same "$k: full refresh rows" "$(read_rows "$k")" "$V1_ROWS"
}

check sqlite "sqlite:///$work/t.db" ev "id INTEGER
n INTEGER
s TEXT
d TEXT" "id INTEGER
n INTEGER
s TEXT
d TEXT
extra TEXT" "3|3000000000|a string longer than ten|12345678901.25"

if [ -n "$have_duckdb" ]; then
  check duckdb "duckdb:///$work/t.duckdb" ev "id INTEGER
n INTEGER
s VARCHAR
d DECIMAL(10,2)" "id INTEGER
n BIGINT
s VARCHAR
d DECIMAL(18,2)
extra VARCHAR" '3|\N|a string longer than ten|\N'
else
  echo "skip duckdb (no libduckdb: scripts/get_duckdb.sh)"
fi

check mssql "$SRC" dbo.ev "id int
n int
s varchar(10)
d decimal(10,2)" "id int
n bigint
s varchar(50)
d decimal(18,2)
extra nvarchar(20)" '3|\N|\N|\N'

# an unknown contract is a usage error naming it
run "unknown contract" 2 ingest --source-uri "$SRC" --source-table dbo.v1 --dest-uri "sqlite:///$work/t.db" \
  --dest-table ev --schema-contract sometimes
expect_err "unknown contract is named" "sometimes"

finish
