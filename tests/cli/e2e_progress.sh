#!/usr/bin/env bash
# e2e_progress.sh — what `tdspipe ingest` shows while it loads, as a user
# sees it: on a terminal (a pty from util-linux `script`) the live line
# with a bar, the percentage of the estimate (~N est., from
# sys.dm_db_partition_stats) and an ETA, redrawn in place with "\r", then
# the summary line; --progress log and --progress json (each line parsed as
# JSON, every documented field present); stdout stays empty in every mode.
#
#   tests/cli/e2e_progress.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" progress "$@"
cd "$work" || exit 1
start_server "$src/tests/server/scenarios/shop.json"
U="mssql://app:app-pass@127.0.0.1:$port/shop?encrypt=disable"
load=(ingest --source-uri "$U" --source-table sales.events --no-load-timestamp)

# --- interactive, on a terminal 100 columns wide
if command -v script >/dev/null; then
  # stderr is the pty; `script` records what the terminal received
  COLUMNS=100 script -qec "stty cols 100 2>/dev/null; '$tdspipe' ${load[*]} --dest-uri 'csv://tty.csv' >tty.out; echo \$? >tty.rc" tty.log >/dev/null </dev/null
  tr -d '\n' <tty.log | sed 's/^Script started[^\r]*\r//' >tty.err
  same "interactive: exit 0" "$(cat tty.rc)" 0
  same "interactive: stdout empty" "$(cat tty.out)" ""
  draws=$(tr '\r' '\n' <tty.err | grep -c 'of ~100000 est\.')
  [ "$draws" -ge 1 ] && ok "interactive: live line with the estimate ($draws draws)" || bad "interactive: no live line" "$(head -c 400 tty.err | od -c | head)"
  line=$(tr '\r' '\n' <tty.err | grep 'of ~100000 est\.' | head -1 | sed 's/\x1b\[K//')
  case $line in
    \[*\]\ *%\ \ ETA\ *s\ \ sales.events:\ *\ rows\ of\ ~100000\ est.*) ok "interactive: bar, percent, ETA, rows of ~est." ;;
    *) bad "interactive: the live line" "[$line]" ;;
  esac
  [ "${#line}" -le 99 ] && ok "interactive: fits the terminal (${#line} columns)" || bad "interactive: ${#line} columns on a 100-column terminal" "$line"
  summary=$(tr '\r' '\n' <tty.err | sed 's/\x1b\[K//' | grep -v -e '^$' -e '^Script done' | tail -1)
  case $summary in
    "sales.events: loaded 100000 rows in "*s\ \(*\ rows/s,\ *\ MB\)) ok "interactive: summary line" ;;
    *) bad "interactive: summary line" "[$summary]" ;;
  esac
else
  echo "skip interactive: no script (util-linux)"
fi

# --- interactive off a terminal: only the summary
run "interactive off a terminal" 0 "${load[@]}" --dest-uri 'csv://plain.csv'
same "interactive off a terminal: one summary line" "$(grep -c '' "$work/err"):$(grep -c 'sales.events: loaded 100000 rows in ' "$work/err")" "1:1"
same "stdout empty" "$out" ""

# --- log
run "log" 0 "${load[@]}" --dest-uri 'csv://log.csv' --progress log
same "log: the summary line last" "$(tail -1 "$work/err" | grep -c '^sales.events: loaded 100000 rows in .*s (.* rows/s, .* MB)$')" 1

# --- json: every line an object with the documented fields
run "json" 0 "${load[@]}" --dest-uri 'csv://json.csv' --progress json
same "json: lines parse, fields as documented" "$(python3 - "$work/err" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
common = {"event", "table", "phase", "rows", "bytes", "elapsed_s", "rows_per_s", "est_rows", "total_rows", "percent", "eta_s"}
bad = [l for l in lines if not common <= set(l)]
done = lines[-1]
print(len(bad), done["event"], done["phase"], done["ok"], done["rows"], done["est_rows"], done["percent"],
      all(l["event"] == "progress" and "ok" not in l for l in lines[:-1]))
PY
)" "0 done done True 100000 100000 100.0 True"
finish
