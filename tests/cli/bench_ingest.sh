#!/usr/bin/env bash
# bench_ingest.sh — rows/s of `tdspipe ingest` from build/tdstestd into each
# destination, for a narrow table (4 columns) and a wide one (30 columns of
# mixed types). Not a ctest test: run it on a release build.
#
#   tests/cli/bench_ingest.sh BUILD_DIR SRC_DIR [ROWS]
#
# DuckDB needs libduckdb.so (TDSPIPE_DUCKDB_LIB or ~/.cache/tdspipe/duckdb);
# PostgreSQL runs under tests/sink/pg_server.sh when initdb is installed.
set -u
build=${1:?build dir}
src=${2:?source dir}
rows=${3:-1000000}
work=$(mktemp -d /tmp/tdspipe-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -n "${pgdir:-}" ] && bash "$src/tests/sink/pg_server.sh" stop "$pgdir" >/dev/null 2>&1 && rm -rf "$pgdir"
  rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work/bench.json" "$rows" <<'PY'
import json, sys
rows = int(sys.argv[2])
types = ["int", "bigint", "decimal(18,4)", "float", "datetime2(7)", "date", "nvarchar(40)", "varchar(40)",
         "uniqueidentifier", "bit"]
wide = [{"name": "id", "type": "int", "nullable": False}]
for i in range(29):
    wide.append({"name": "c%02d" % i, "type": types[i % len(types)], "gen": {"start": i, "step": i + 1}})
s = {"logins": [{"user": "sa", "password": "Passw0rd!", "database": "bench"}],
     "databases": [{"name": "bench", "tables": [
        {"schema": "dbo", "name": "narrow", "rows": rows, "primary_key": ["id"], "columns": [
            {"name": "id", "type": "int", "nullable": False},
            {"name": "big", "type": "bigint", "gen": {"start": 0, "step": 1000003}},
            {"name": "name", "type": "nvarchar(32)", "gen": {"prefix": "name-"}},
            {"name": "val", "type": "float"}]},
        {"schema": "dbo", "name": "wide", "rows": rows // 4, "primary_key": ["id"], "columns": wide}]}]}
json.dump(s, open(sys.argv[1], "w"))
PY
"$build/tdstestd" --scenario "$work/bench.json" --port 0 >"$work/srv" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do port=$(sed -n 's/^port //p' "$work/srv"); [ -n "$port" ] && break; sleep 0.05; done
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"

dests=("discard://" "csv://$work/o.csv" "csv://$work/o.csv.gz" "jsonl://$work/o.jsonl" "sqlite:///$work/o.db")
duck=${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}
[ -s "$duck" ] && export TDSPIPE_DUCKDB_LIB=$duck && dests+=("duckdb:///$work/o.duckdb")
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  pgdir=$(mktemp -d /tmp/tdspipe-bench-pg.XXXXXX)
  pgport=$(bash "$src/tests/sink/pg_server.sh" start "$pgdir" 2>/dev/null) && dests+=("postgresql://postgres@127.0.0.1:$pgport/postgres")
fi

printf "%-8s %-12s %10s %10s %12s\n" table destination rows seconds rows/s
for table in narrow wide; do
  for d in "${dests[@]}"; do
    line=$("$build/tdspipe" ingest --source-uri "$U" --source-table "$table" --dest-uri "$d" --progress json 2>&1 | grep '"event":"done"')
    name=${d%%://*}; case $d in *.gz) name="$name.gz";; esac
    python3 - "$table" "$name" "$line" <<'PY'
import json, sys
try:
    j = json.loads(sys.argv[3])
    print("%-8s %-12s %10d %10.2f %12.0f" % (sys.argv[1], sys.argv[2], j["rows"], j["elapsed_s"], j["rows_per_s"]))
except Exception:
    print("%-8s %-12s failed" % (sys.argv[1], sys.argv[2]))
PY
  done
done
