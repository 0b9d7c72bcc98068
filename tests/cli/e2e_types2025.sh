#!/usr/bin/env bash
# e2e_types2025.sh — SQL Server 2025's json and vector(n[, float16]) end to
# end (issue 18): build/tdspipe loads tdstestd's types2025 scenario (json,
# vector(3), vector(4, float16), vector(1998), vector(3996, float16)) into
# CSV, JSONL, SQLite, DuckDB, Parquet, PostgreSQL and a SQL Server destination
# (tdstestd again); tests/cli/types2025_check.py models the generator and
# compares every value read back from each destination. Then: a server
# that does not acknowledge JSONSUPPORT/VECTORSUPPORT (--no-2025-types)
# sends text and gives the same values (PostgreSQL then gets text columns,
# proving the native path was used above); FreeTDS's tsql, which does not
# ask for the features, sees the JSON text.
#
#   tests/cli/e2e_types2025.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_types2025 "$@"
scen=$src/tests/server/scenarios/types2025.json
check() { # NAME SINK TARGET [TABLE]
  if python3 "$src/tests/cli/types2025_check.py" "$scen" "$2" "$3" "$build/ddb_query" "${4:-t}" >"$work/chk" 2>&1; then
    ok "$1: every value ($(tail -1 "$work/chk"))"
  else
    bad "$1: values" "$(head -8 "$work/chk")"
  fi
}
load() { # NAME SOURCE DEST_URI TABLE
  if "$tdspipe" ingest --source-uri "$2" --source-table dbo.t2025 --dest-uri "$3" --dest-table "$4" \
       >"$work/out" 2>"$work/err"; then ok "$1: load"; else bad "$1: load" "$(cat "$work/err")"; fi
}
start_server "$scen"
A="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
aport=$port
start_server "$scen" --no-2025-types
T="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
tport=$port
mkdir "$work/d" && cd "$work/d"

for mode in native text; do
  S=$A; [ $mode = text ] && S=$T
  load "csv $mode" "$S" "csv://$mode.csv" t;            check "csv $mode" csv "$mode.csv"
  js=jsonl; [ $mode = text ] && js=jsonl-text # as SQL Server's text: strings
  load "jsonl $mode" "$S" "jsonl://$mode.jsonl" t;      check "jsonl $mode" $js "$mode.jsonl"
  load "sqlite $mode" "$S" "sqlite:///$mode.db" t;      check "sqlite $mode" sqlite "$mode.db"
done
cmp -s native.csv text.csv 2>/dev/null || python3 - native.csv text.csv <<'PY' && ok "csv: native and text sources give the same values" || bad "csv: native and text differ"
import csv, sys
a, b = ([r[:-1] for r in csv.reader(open(f))] for f in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY

duck=${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}
if [ -s "$duck" ] && [ -x "$build/ddb_query" ]; then
  export TDSPIPE_DUCKDB_LIB=$duck
  load "duckdb" "$A" "duckdb:///t.duckdb" main.t
  check "duckdb" duckdb t.duckdb main.t
  same "duckdb: json is JSON, vector(n) FLOAT[n] (float16 too, 1998 and 3996)" \
    "$("$build/ddb_query" t.duckdb "select typeof(j), typeof(v), typeof(h), typeof(vmax), typeof(hmax), v[1], h[4], j->>'s' from main.t where id = 1")" \
    "JSON|FLOAT[3]|FLOAT[4]|FLOAT[1998]|FLOAT[3996]|-121.125|-118.5|j-1"
  for k in 1 2; do
    "$tdspipe" ingest --source-uri "$A" --source-table dbo.t2025 --dest-uri "duckdb:///t.duckdb" --dest-table main.tm \
      --incremental-strategy merge --incremental-key id >"$work/out" 2>"$work/err" || bad "duckdb merge $k" "$(cat "$work/err")"
  done
  check "duckdb merged twice" duckdb t.duckdb main.tm
  load "parquet" "$A" "parquet://t.parquet" t
  same "parquet: vectors are FLOAT lists, json JSON" \
    "$("$build/ddb_query" "$work/x.duckdb" "select typeof(v), cast(h as varchar), j->>'s', len(hmax) from 't.parquet' where id = 1")" \
    "FLOAT[]|[-121.125, -120.25, -119.375, -118.5]|j-1|3996"
else
  echo "skip DuckDB: no libduckdb.so or build/ddb_query"
fi

if [ -x "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -1)" ] && command -v psql >/dev/null; then
  pgdir=$(mktemp -d /tmp/tdspipe-pg.XXXXXX)
  if pgport=$(bash "$src/tests/sink/pg_server.sh" start "$pgdir" 2>"$work/pg.err"); then
    PG="postgresql://postgres@127.0.0.1:$pgport/postgres"
    load "postgresql" "$A" "$PG" public.t
    check "postgresql" postgresql "$PG" public.t
    same "postgresql: json is jsonb, vector real[] (1998 and 3996 elements)" \
      "$(psql "$PG" -Atc "select pg_typeof(j), pg_typeof(v), array_length(vmax,1), array_length(hmax,1) from public.t where id = 1")" \
      "jsonb|real[]|1998|3996"
    load "postgresql from a server without the features" "$T" "$PG" public.tt
    check "postgresql (text source)" postgresql-text "$PG" public.tt
    same "postgresql: without the features the columns are text" \
      "$(psql "$PG" -Atc "select pg_typeof(j), pg_typeof(v) from public.tt where id = 1")" "text|text"
  else
    echo "skip PostgreSQL: $(head -3 "$work/pg.err")"
  fi
else
  echo "skip PostgreSQL: not installed"
fi

# SQL Server destination: json / vector(n[, float16]) tables, bulk loaded as text
load "mssql destination" "$A" "$A" dbo.t2
if "$tdspipe" ingest --source-uri "$A" --source-table dbo.t2 --dest-uri "csv://back.csv" --dest-table t >"$work/out" 2>"$work/err"; then
  check "mssql destination (read back)" mssql-csv back.csv
else
  bad "mssql destination: read back" "$(cat "$work/err")"
fi

# merge twice (the second updates every row) into SQL Server and SQLite
for k in 1 2; do
  "$tdspipe" ingest --source-uri "$A" --source-table dbo.t2025 --dest-uri "$A" --dest-table dbo.tm \
    --incremental-strategy merge --incremental-key id >"$work/out" 2>"$work/err" || bad "mssql merge $k" "$(cat "$work/err")"
  "$tdspipe" ingest --source-uri "$A" --source-table dbo.t2025 --dest-uri "sqlite:///m.db" --dest-table tm \
    --incremental-strategy merge --incremental-key id >"$work/out" 2>"$work/err" || bad "sqlite merge $k" "$(cat "$work/err")"
done
"$tdspipe" ingest --source-uri "$A" --source-table dbo.tm --dest-uri "csv://tm.csv" --dest-table t >"$work/out" 2>"$work/err" ||
  bad "mssql merge: read back" "$(cat "$work/err")"
check "mssql destination merged twice" mssql-csv tm.csv
check "sqlite merged twice" sqlite m.db tm

coltypes() { # PORT DB TABLE: "name type" per column, from the catalog
  printf "select column_name, data_type from information_schema.columns where table_name = '%s'\ngo\n" "$3" |
    timeout 20 tsql -H 127.0.0.1 -p "$1" -U sa -P 'Passw0rd!' -D "$2" 2>/dev/null | grep -E '^(j|v|h|vmax|hmax)[[:space:]]' | tr '\t\n' ' '
}
if command -v tsql >/dev/null; then
  same "mssql destination (2025): json and vector columns" "$(coltypes "$aport" types t2)" \
    "j json v vector h vector vmax vector hmax vector "
fi
# a target before SQL Server 2025 (tdstestd playing version 16) has no
# json/vector: nvarchar(max) / varchar(max) holding the same text
printf '{"server": {"name": "old", "version": "16.0.4115"}, "logins": [{"user": "sa", "password": "Passw0rd!", "database": "dest"}], "databases": [{"name": "dest", "tables": []}]}\n' >"$work/old.json"
start_server "$work/old.json"
O="mssql://sa:Passw0rd%21@127.0.0.1:$port/dest?encrypt=disable"
load "mssql destination before 2025" "$A" "$O" dbo.t
if "$tdspipe" ingest --source-uri "$O" --source-table dbo.t --dest-uri "csv://old.csv" --dest-table t >"$work/out" 2>"$work/err"; then
  check "mssql destination before 2025 (read back)" mssql-csv old.csv
else
  bad "mssql destination before 2025: read back" "$(cat "$work/err")"
fi
if command -v tsql >/dev/null; then
  same "mssql destination before 2025: nvarchar/varchar columns" "$(coltypes "$port" dest t)" \
    "j nvarchar v varchar h varchar vmax varchar hmax varchar "
fi

# A client that does not ask for the features (FreeTDS tsql) sees text
if command -v tsql >/dev/null; then
  got=$(printf 'select j, v, h from dbo.t2025 where id = 1\ngo\n' | timeout 20 tsql -H 127.0.0.1 -p "$tport" -U sa -P 'Passw0rd!' -D types 2>/dev/null | grep '^{')
  same "tsql sees json and vectors as text" "$got" \
    "$(printf '{"i":1,"s":"j-1","a":[1,-1,null],"ok":false,"u":"\xc3\xa9\xe2\x82\xac"}\t[-121.125,-120.25,-119.375]\t[-121.125,-120.25,-119.375,-118.5]')"
fi

# NaN/Inf and wrong shapes are refused as SQL Server refuses them (vectors
# are written as JSON arrays of numbers; float16 beyond ±65504 errs)
if command -v tsql >/dev/null; then
  q() { printf '%s\ngo\n' "$1" | timeout 20 tsql -H 127.0.0.1 -p "$aport" -U sa -P 'Passw0rd!' -D types 2>&1; }
  q "create table dbo.nv (id int not null, v vector(3), h vector(2, float16))" >/dev/null
  for bad in "'[1,2]', NULL" "'[1,NaN,2]', NULL" "'[1,Infinity,2]', NULL" "NULL, '[1,70000]'" "'[1,\"2\",3]', NULL"; do
    q "insert into dbo.nv (id, v, h) values (9, $bad)" | grep -q 'Msg 245' && ok "refused: $bad" || bad "accepted: $bad"
  done
  q "create table dbo.nj (id int not null, j json)" >/dev/null
  q "insert into dbo.nj (id, j) values (1, '{\"a\":')" | grep -q 'Msg 245' && ok "refused: json that is not JSON" ||
    bad "accepted: json that is not JSON"
  q "insert into dbo.nv (id, v, h) values (1, ' [ 1e1 , 2.5 , -3 ] ', '[0.5, -65504]')" >/dev/null
  "$tdspipe" ingest --source-uri "$A" --source-table dbo.nv --dest-uri "csv://nv.csv" --dest-table t >"$work/out" 2>"$work/err" ||
    bad "nv: load" "$(cat "$work/err")"
  same "accepted vectors read back exactly" "$(cut -d, -f1-6 nv.csv | sed -n 2p | tr -d '"')" "1,[10,2.5,-3],[0.5,-65504]"
fi

# the checker must catch a wrong element
sed '2s/-120.25/-120.5/' native.csv >wrong.csv
python3 "$src/tests/cli/types2025_check.py" "$scen" csv wrong.csv >"$work/chk" 2>&1 && bad "checker misses a changed element" ||
  ok "checker catches a changed element"
finish
