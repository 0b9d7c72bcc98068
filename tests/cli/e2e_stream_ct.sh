#!/usr/bin/env bash
# e2e_stream_ct.sh — `tdspipe ingest --stream` from a +ct source end to end
# (tests/cli/e2e_stream.py does the work: random concurrent changes, two
# dropped connections, SIGTERM and restart, destination = source, /metrics,
# SIGTERM latency, restamp while idle).
#
#   tests/cli/e2e_stream_ct.sh BUILD_DIR SRC_DIR
#
# STREAM_SECONDS (default 25) sets how long the changes run.
set -u
build=${1:?build dir}
src=${2:?source dir}
exec /usr/bin/python3 "$src/tests/cli/e2e_stream.py" "$build" "$src" ct
