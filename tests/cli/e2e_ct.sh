#!/usr/bin/env bash
# e2e_ct.sh — Change Tracking sources (mssql+ct://) end to end: build/tdspipe
# against build/tdstestd's Change Tracking emulation, into SQLite, DuckDB
# and PostgreSQL, checked against a model of the source table
# (tests/cli/e2e_ct.py does the work; this wrapper gives it a PostgreSQL).
#
#   tests/cli/e2e_ct.sh BUILD_DIR SRC_DIR
#
# CT_RANDOM_RUNS (default 100) sets the length of the random-changes test.
set -u
build=${1:?build dir}
src=${2:?source dir}
py=/usr/bin/python3
if [ -n "${TDSPIPE_PG_URI:-}" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then
  exec bash "$src/tests/sink/pg_server.sh" run "$py" "$src/tests/cli/e2e_ct.py" "$build" "$src"
fi
echo "skip PostgreSQL: not installed"
exec "$py" "$src/tests/cli/e2e_ct.py" "$build" "$src"
