#!/usr/bin/env bash
# The README's demo: starts the bundled test server (build/tdstestd) with
# the demo scenario, runs a real `tdspipe ingest` of sales.orders into a
# DuckDB file, and prints a few rows read back through DuckDB itself
# (build/ddb_query, which loads libduckdb.so like the DuckDB destination;
# scripts/deps.sh puts it in ~/.cache/tdspipe/duckdb).
#
# env: BUILD_DIR (default build), DEMO_OUT (the DuckDB file; default a
# temporary directory, removed at the end unless DEMO_OUT is given).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
for b in tdstestd tdspipe ddb_query; do
  [ -x "$build/$b" ] || { echo "demo: $build/$b is missing; build first (cmake --build $build)" >&2; exit 1; }
done
log=$(mktemp)
tmp=$(mktemp -d)
out=${DEMO_OUT:-$tmp/demo.duckdb}
"$build/tdstestd" --scenario tests/server/scenarios/demo.json --port 0 >"$log" 2>"$log.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$log" "$log.err" "$tmp"' EXIT
port=""
for _ in $(seq 100); do
  port=$(awk '/^port /{print $2; exit}' "$log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "demo: tdstestd did not start" >&2; exit 1; }
echo "tdstestd (scenario tests/server/scenarios/demo.json) listening on 127.0.0.1:$port"

echo "+ tdspipe ingest … --source-table sales.orders --dest-uri duckdb:///$out"
"$build/tdspipe" ingest \
  --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable" \
  --source-table sales.orders \
  --dest-uri "duckdb:///$out" --dest-table sales.orders
echo "+ read back through DuckDB (build/ddb_query):"
echo "order_id|customer_id|amount|note"
"$build/ddb_query" "$out" "SELECT order_id, customer_id, amount, note FROM sales.orders ORDER BY order_id LIMIT 5"
echo "orders|total|type of amount"
"$build/ddb_query" "$out" "SELECT count(*), sum(amount), typeof(any_value(amount)) FROM sales.orders"
