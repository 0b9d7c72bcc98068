#!/usr/bin/env bash
# e2e_cdc.sh — Change Data Capture sources (mssql+cdc://) end to end:
# build/tdspipe against build/tdstestd's CDC emulation, into SQLite, DuckDB,
# PostgreSQL and SQL Server, checked against a model of the source tables
# (tests/cli/e2e_cdc.py does the work; this wrapper gives it a PostgreSQL).
#
#   tests/cli/e2e_cdc.sh BUILD_DIR SRC_DIR
#
# CDC_RANDOM_ROUNDS (default 100 per destination) and CDC_RANDOM_SECONDS
# (default 20 in all) set the length of the random rounds.
set -u
build=${1:?build dir}
src=${2:?source dir}
py=/usr/bin/python3
if [ -n "${TDSPIPE_PG_URI:-}" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then
  exec bash "$src/tests/sink/pg_server.sh" run "$py" "$src/tests/cli/e2e_cdc.py" "$build" "$src"
fi
echo "skip PostgreSQL: not installed"
exec "$py" "$src/tests/cli/e2e_cdc.py" "$build" "$src"
