#!/usr/bin/env bash
# e2e_signals.sh — SIGINT and SIGTERM during a load: the command's own
# handler (cli/main.c) sets the flag the library polls
# (tdspipe_load_opts.cancel), so a read the server stalled ends within
# moments, with exit 1, one line on stderr and no destination left behind.
#
#   tests/cli/e2e_signals.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_signals "$@"

fault_scenario "$src/tests/server/scenarios/demo.json" "$work/stall.json" stall_after_rows 100
start_server "$work/stall.json"
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"
cd "$work"

for sig in INT TERM; do
  "$tdspipe" ingest --source-uri "$U" --source-table sales.orders --dest-uri "sqlite:///s_$sig.db" \
    --progress log >"$work/out" 2>"$work/err" &
  pid=$!
  sleep 1
  t0=$(date +%s%N)
  kill -"$sig" "$pid"
  wait "$pid"
  rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  same "SIG$sig: exit 1" "$rc" 1
  [ "$ms" -lt 3000 ] && ok "SIG$sig: ended in ${ms} ms" || bad "SIG$sig: took ${ms} ms"
  if [ "$(grep -c '' "$work/err")" = 1 ] && grep -q "cancel" "$work/err"; then ok "SIG$sig: one line naming the cancel"
  else bad "SIG$sig: message" "$(cat "$work/err")"; fi
  [ ! -e "s_$sig.db" ] && ok "SIG$sig: no database file left" || bad "SIG$sig: s_$sig.db left behind"
done

finish
