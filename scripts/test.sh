#!/usr/bin/env bash
# The whole test suite: builds everything with AddressSanitizer +
# UndefinedBehaviorSanitizer, runs every registered test (engine, test
# server, connections, sinks against real PostgreSQL/SQLite/DuckDB, CLI,
# the install check), then examples/ built against an installed prefix,
# then the peer clients (FreeTDS, pytds, tedious) against tdstestd, then a
# short libFuzzer run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/deps.sh
export TDSPIPE_DUCKDB_LIB=$(bash scripts/get_duckdb.sh)

jobs=$(nproc)
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTDSPIPE_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd build-asan && ctest --output-on-failure -j"$jobs")

# examples/ built against an installed prefix through pkg-config (a Release
# tree in build-release, installed into a temporary prefix) and run against
# the installed tdstestd, their output checked.
bash scripts/examples.sh build-release

# Third-party clients must accept the (sanitized) test server.
BUILD_DIR=build-asan bash tests/peers/run.sh

# Fuzz smoke: FUZZ_SECONDS per target (60 in CI), seeded from fuzz/corpus
# and the shared token-stream corpus.
fuzz_seconds=${FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" -gt 0 ]; then
  CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTDSPIPE_FUZZ=ON -DTDSPIPE_SANITIZE=ON -DTDSPIPE_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j"$jobs" --target $(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')
  for f in build-fuzz/fuzz_*; do
    name=$(basename "$f")
    work=$(mktemp -d)
    seeds=()
    [ -d "fuzz/corpus/$name" ] && seeds+=("fuzz/corpus/$name")
    if [ "$name" = fuzz_token ] && [ -d "$root/../shared/corpus/token_stream" ]; then
      seeds+=("$root/../shared/corpus/token_stream")
    fi
    echo "fuzz: $name for ${fuzz_seconds}s"
    "$f" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=0 "$work" "${seeds[@]}" 2>"$work.log" || {
        tail -50 "$work.log"; echo "fuzz: $name FAILED"; exit 1; }
    rm -rf "$work" "$work.log"
  done
fi
echo "all tests passed"
