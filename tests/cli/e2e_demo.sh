#!/usr/bin/env bash
# e2e_demo.sh — the README's first command ends with scripts/demo.sh: it
# must load sales.orders into DuckDB and show it read back through DuckDB.
#
#   tests/cli/e2e_demo.sh BUILD_DIR SRC_DIR
set -u
build=$(cd "${1:?build dir}" && pwd)
src=$(cd "${2:?source dir}" && pwd)
out=$(BUILD_DIR=$build bash "$src/scripts/demo.sh" 2>&1)
rc=$?
fails=0
check() {
  if printf '%s\n' "$out" | grep -qxF -- "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}
[ $rc = 0 ] && echo "ok   demo exits 0" || { echo "FAIL demo exit $rc"; fails=$((fails + 1)); }
check "demo shows the first order read back" "1|1|1.00|order 1"
check "demo shows count, sum and DuckDB's type" "1000|181917.40|DECIMAL(12,2)"
[ $fails = 0 ] || printf '%s\n' "$out"
[ $fails = 0 ]
