#!/usr/bin/env bash
# e2e_errors.sh — bad input to the real binary, beyond e2e_ingest.sh: each
# usage error (exit 2) and destination error (exit 1) gives one line on
# stderr naming the problem, no secret, nothing on stdout, and leaves an
# existing destination byte for byte as it was.
#
#   tests/cli/e2e_errors.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_errors "$@"

start_server "$src/tests/server/scenarios/alltypes.json"
A="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
mkdir "$work/d" && cd "$work/d"

# an existing destination every case must leave alone
"$tdspipe" ingest --source-uri "$A" --source-table alltypes --dest-uri sqlite:///keep.db --progress log 2>/dev/null ||
  { echo "FAIL seed load"; exit 1; }
cp keep.db "$work/keep.before"

# expect NAME RC NEEDLE ARGS…: exit RC, stderr one line holding NEEDLE
# and no password, stdout empty, keep.db unchanged, no new file
expect() {
  local name=$1 want=$2 needle=$3; shift 3
  "$tdspipe" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  local lines; lines=$(grep -c '' "$work/err")
  if [ "$rc" != "$want" ]; then bad "$name: exit $rc, wanted $want" "$(cat "$work/err")"
  elif [ "$lines" != 1 ] || ! grep -qF -- "$needle" "$work/err"; then bad "$name: message" "$(cat "$work/err")"
  elif grep -q -E 'Passw0rd|PGSECRET' "$work/err"; then bad "$name: a password in the message" "$(cat "$work/err")"
  elif [ -s "$work/out" ]; then bad "$name: stdout not empty" "$(cat "$work/out")"
  elif ! cmp -s keep.db "$work/keep.before"; then bad "$name: keep.db changed"
  elif [ "$(ls -A | tr '\n' ' ')" != "keep.db " ]; then bad "$name: left files" "$(ls -A)"
  else ok "$name (exit $rc)"; fi
}
I=(ingest --source-uri "$A" --source-table alltypes --progress log)
K=(--dest-uri sqlite:///keep.db)

# ------------------------------------------------------------- usage (2)
expect "flag without a value" 2 "--dest-uri" ingest --source-uri "$A" --source-table alltypes --dest-uri
expect "bad --progress" 2 "unknown progress mode 'bogus'" ingest --source-uri "$A" --source-table alltypes "${K[@]}" --progress bogus
expect "flag given twice" 2 "given twice" "${I[@]}" "${K[@]}" --progress json
expect "bad --schema-naming" 2 "unknown naming 'bogus'" "${I[@]}" "${K[@]}" --schema-naming bogus
expect "bad --page-size" 2 "--page-size" "${I[@]}" "${K[@]}" --page-size 0
expect "bad --sql-limit" 2 "--sql-limit" "${I[@]}" "${K[@]}" --sql-limit abc
expect "merge into jsonl" 2 "jsonl destinations support replace and append" "${I[@]}" --dest-uri jsonl://x.jsonl --incremental-strategy merge
expect "delete+insert without key" 2 "delete+insert needs --incremental-key" "${I[@]}" "${K[@]}" --incremental-strategy delete+insert
expect "interval without key" 2 "need --incremental-key" "${I[@]}" "${K[@]}" --interval-start 5
expect "--columns unknown column" 2 "no column 'nosuch'" "${I[@]}" "${K[@]}" --columns nosuch:int
expect "--columns bad type" 2 "unknown column type" "${I[@]}" "${K[@]}" --columns c_int:blob
expect "unknown incremental key" 2 "incremental key 'nosuch'" "${I[@]}" "${K[@]}" --incremental-strategy append --incremental-key nosuch
expect "four-part table name" 2 "at most three name parts" ingest --source-uri "$A" --source-table a.b.c.d "${K[@]}"
expect "malformed source URI" 2 "malformed source URI" ingest --source-uri "mssql://sa:Passw0rd!@127.0.0.1:$port/types?encrypt=disable x" --source-table alltypes "${K[@]}"
expect "source URI with two path segments" 2 "just the database name" ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$port/types/x" --source-table alltypes "${K[@]}"
expect "malformed postgres URI" 2 "malformed destination URI" "${I[@]}" --dest-uri "postgresql://postgres:PGSECRET x@127.0.0.1:1/db"
expect "unknown source parameter" 2 "bogus" ingest --source-uri "$A&bogus=1" --source-table alltypes "${K[@]}"

# ------------------------------------------------------ destination (1)
expect "sqlite in a missing directory" 1 "sqlite: cannot open" "${I[@]}" --dest-uri sqlite:////nonexistent-dir/x.db
# (a missing directory is made, as ingestr makes it: one that cannot be)
expect "csv.gz in a directory that cannot be made" 1 "/dev/null/d/x.csv.gz" "${I[@]}" --dest-uri csv:///dev/null/d/x.csv.gz
expect "jsonl in a directory that cannot be made" 1 "/dev/null/d/x.jsonl" "${I[@]}" --dest-uri jsonl:///dev/null/d/x.jsonl
expect "postgresql unreachable" 1 "postgresql: cannot connect" "${I[@]}" --dest-uri "postgresql://postgres:PGSECRET@127.0.0.1:1/db"
TDSPIPE_DUCKDB_LIB=/nonexistent/libduckdb.so expect "duckdb library missing" 1 "needs libduckdb.so" "${I[@]}" --dest-uri duckdb:///x.duckdb
duck=${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}
if [ -s "$duck" ]; then
  TDSPIPE_DUCKDB_LIB=$duck expect "duckdb in a missing directory" 1 "duckdb: cannot open" "${I[@]}" --dest-uri duckdb:////nonexistent-dir/x.duckdb
fi
chmod 0444 keep.db
if [ "$(id -u)" != 0 ]; then # root writes read-only files anyway
  expect "read-only sqlite file" 1 "sqlite" "${I[@]}" "${K[@]}"
fi
chmod 0644 keep.db

# ------------------------------------------------------------ source (1)
expect "wrong password" 1 "Login failed" ingest --source-uri "mssql://sa:WrongPassw0rd@127.0.0.1:$port/types?encrypt=disable" --source-table alltypes "${K[@]}" --progress log
expect "missing table" 1 "does not exist" "${I[@]/alltypes/nosuch}" "${K[@]}"
expect "unreachable host" 1 "127.0.0.1" ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:1/types?encrypt=disable&connection+timeout=3" --source-table alltypes "${K[@]}" --progress log

finish
