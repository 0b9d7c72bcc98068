#!/usr/bin/env bash
# stream_latency.sh — end-to-end latency of `tdspipe ingest --stream`
# (source commit → committed in DuckDB) at a steady rate of changes, for
# Change Tracking and Change Data Capture sources against tdstestd
# (bench/stream_latency.py does the work and explains the measure).
#
#   bench/stream_latency.sh [BUILD_DIR] [RATE] [SECONDS] [POLL]
#
# Defaults: build (a Release build), 1000 changes/s, 20 s, poll_interval
# 100ms. Needs pytds and libduckdb (TDSPIPE_DUCKDB_LIB or
# scripts/get_duckdb.sh).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
export TDSPIPE_DUCKDB_LIB=${TDSPIPE_DUCKDB_LIB:-$(bash "$root/scripts/get_duckdb.sh")}
for kind in ct cdc; do
  /usr/bin/python3 "$root/bench/stream_latency.py" "$build" "$kind" "${2:-1000}" "${3:-20}" "${4:-100ms}"
done
