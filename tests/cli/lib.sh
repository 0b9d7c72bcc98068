# tests/cli/lib.sh — the start every tests/cli/e2e_*.sh shares: the
# arguments, a work directory removed at exit (KEEP=1 keeps it), the
# tdstestd servers a script starts (killed at exit), the ok/bad counters
# and the checks built on them. Not a test itself: ctest registers only
# e2e_*.sh (cli/CMakeLists.txt).
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh" NAME "$@"    # "$@" = BUILD_DIR SRC_DIR
#
# sets build, src (absolute), tdspipe, tdstestd, work (/tmp/tdspipe-NAME.*),
# pids (add the pid of anything started in the background), and stops a
# PostgreSQL that a script started into $pgdir (tests/sink/pg_server.sh).
# The script ends with `finish`, whose status is the script's.
e2e_name=$1
build=$(cd "${2:?build dir}" && pwd)
src=$(cd "${3:?source dir}" && pwd)
tdspipe=$build/tdspipe
tdstestd=$build/tdstestd
work=$(mktemp -d "/tmp/tdspipe-$e2e_name.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "${pgdir:-}" ]; then bash "$src/tests/sink/pg_server.sh" stop "$pgdir" >/dev/null 2>&1; rm -rf "$pgdir"; fi
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok   $1"; }
bad() { fails=$((fails + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "     $2"; }
same() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got [$2] wanted [$3]"; fi; }
finish() {
  echo "$e2e_name: $passes passed, $fails failed"
  [ "$fails" = 0 ]
}

# need_duckdb: exports TDSPIPE_DUCKDB_LIB (default: where
# scripts/get_duckdb.sh puts libduckdb.so), or ends the script with a
# "skip:" line when that library or build/ddb_query is missing
need_duckdb() {
  local duck=${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}
  if [ ! -s "$duck" ] || [ ! -x "$build/ddb_query" ]; then
    echo "skip: no libduckdb.so (scripts/get_duckdb.sh) or build/ddb_query"
    finish
    exit
  fi
  export TDSPIPE_DUCKDB_LIB=$duck
}

# start_server SCENARIO [tdstestd flags…] → sets port; the server's stderr
# (its log with --verbose) is $srv_err. A server that does not start ends
# the script.
srv_n=0
start_server() {
  local scen=$1; shift
  srv_n=$((srv_n + 1))
  local log=$work/srv.$srv_n
  srv_err=$log.err
  : >"$log"
  "$tdstestd" --scenario "$scen" --port 0 "$@" >"$log" 2>"$srv_err" &
  pids+=($!)
  for _ in $(seq 100); do
    port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$log" 2>/dev/null | head -1)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "FAIL tdstestd did not start"; cat "$srv_err"; exit 1
}

# fault_scenario SCENARIO OUT FAULT N: OUT is SCENARIO with the one fault
# FAULT (tests/server/README.md: close_after_rows, error_after_rows, …) at N
fault_scenario() {
  python3 - "$@" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["faults"] = {sys.argv[3]: int(sys.argv[4])}
json.dump(s, open(sys.argv[2], "w"))
PY
}

# run NAME EXPECTED_RC ARGS…: runs tdspipe ARGS; rc, and stdout/stderr in
# $work/out, $work/err and $out, $err
run() {
  local name=$1 want=$2; shift 2
  "$tdspipe" "$@" >"$work/out" 2>"$work/err"
  rc=$?
  out=$(cat "$work/out"); err=$(cat "$work/err")
  if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"; else bad "$name: exit $rc, wanted $want" "$(cut -c1-300 "$work/err")"; fi
}
# expect_err NAME NEEDLE: the last run's stderr holds NEEDLE and is one line
expect_err() {
  if grep -qF -- "$2" "$work/err" && [ "$(grep -c '' "$work/err")" = 1 ]; then ok "$1"; else bad "$1" "stderr: $(cut -c1-300 "$work/err")"; fi
}
