#!/usr/bin/env bash
# The README's demo: starts the bundled test server with the demo scenario,
# reads a table through it, and shows the engine's decode speed.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
[ -x "$build/tdstestd" ] || { echo "demo: $build/tdstestd is missing; build first" >&2; exit 1; }
log=$(mktemp)
"$build/tdstestd" --scenario tests/server/scenarios/demo.json --port 0 >"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q '^port ' "$log" && break; sleep 0.1; done
port=$(awk '/^port /{print $2; exit}' "$log")
echo "tdstestd listening on 127.0.0.1:$port"
if [ -x "$build/tdspipe" ]; then
  out=$(mktemp -d)
  "$build/tdspipe" ingest --source-uri "mssql://reader:reader@127.0.0.1:$port/demo?encrypt=disable" \
    --source-table sales.orders --dest-uri "csv:///$out/orders.csv" --dest-table orders
  head -5 "$out/orders.csv"
else
  printf 'SELECT * FROM dbo.customers\ngo\nexit\n' |
    TDSVER=7.4 tsql -H 127.0.0.1 -p "$port" -U reader -P reader -D demo
fi
[ -x "$build/decode_bench" ] && "$build/decode_bench" 1000000 4096
