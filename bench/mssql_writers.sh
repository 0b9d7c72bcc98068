#!/usr/bin/env bash
# mssql_writers.sh — the SQL Server destination's parallel bulk writers
# (bulk_writers=K, docs/mssql-destination.md) against a destination
# tdstestd whose every connection is capped (--rate-limit-mbs, applied to
# the bytes it receives as well as to those it sends: a real server's
# per-session rate). The narrow table (read from a second, uncapped
# tdstestd over one connection) is loaded with K = 1, 4, 12 writers, two
# ways: "heap" (a query source, no key: the stage is renamed) and "keyed"
# (the table with its primary key: the stage is copied into the keyed
# target inside the transaction). Then K = 1 and 12 uncapped: the machine's
# own ceiling. Elapsed seconds, rows/s, speed-up over K = 1, tdspipe's
# peak RSS and CPU, the destination server's CPU; each load's row count
# checked. Writes OUT/mssql_writers.tsv and OUT/mssql_writers.md.
#
#   bench/mssql_writers.sh [--rows 1000000] [--cap 8] [--k "1 4 12"] [--runs 2]
#                          [--build-dir build-rel] [--out bench/results]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=1000000 cap=8 ks="1 4 12" runs=2
build=${BUILD_DIR:-$root/build-rel} out=$root/bench/results
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift ;; --cap) cap=$2; shift ;; --k) ks=$2; shift ;; --runs) runs=$2; shift ;;
    --build-dir) build=$(cd "$2" && pwd); shift ;; --out) out=$2; shift ;;
    *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift
done
work=$(mktemp -d /tmp/tdspipe-mswbench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
scen=$root/tests/server/scenarios/narrow.json
# server NAME [flags…]: a tdstestd; its port in $port, its pid in $pid
server() {
  local name=$1; shift
  TDSTESTD_ROWS_NARROW=$rows "$build/tdstestd" --scenario "$scen" --port 0 "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  pids+=($pid)
  for _ in $(seq 100); do port=$(sed -n 's/^port //p' "$work/$name.out"); [ -n "$port" ] && break; sleep 0.05; done
}
uri() { echo "mssql://sa:Passw0rd%21@127.0.0.1:$1/bench?encrypt=disable"; }
server src; S=$(uri "$port")
server capped --rate-limit-mbs "$cap"; C=$(uri "$port"); cpid=$pid
server open; O=$(uri "$port"); opid=$pid

cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; } # utime + stime (USER_HZ 100)

# one DEST_URI DEST_PID MODE K: prints "seconds rss_kb tdspipe_cpu server_cpu rows"
one() {
  local d=$1 dpid=$2 mode=$3 k=$4 src=dbo.narrow
  [ "$mode" = heap ] && src="query:SELECT * FROM narrow"
  local c0; c0=$(cpu_s "$dpid")
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$build/tdspipe" ingest --source-uri "$S" --source-table "$src" \
    --dest-uri "$d&bulk_writers=$k" --dest-table "dbo.w_$mode" --no-load-timestamp --extract-parallelism 1 \
    >"$work/log" 2>&1 || { echo "FAIL $mode K=$k: $(tail -1 "$work/log")" >&2; echo "0 0 0 0 0"; return; }
  local c1; c1=$(cpu_s "$dpid")
  rm -f "$work/n.csv"
  "$build/tdspipe" ingest --source-uri "$d" --source-table "query:SELECT COUNT(*) AS n FROM w_$mode" \
    --dest-uri "csv://$work/n.csv" --dest-table x --no-load-timestamp >/dev/null 2>&1
  read -r s m u y <"$work/time"
  echo "$s $m $(awk -v u="$u" -v y="$y" 'BEGIN{printf "%.2f", u + y}') $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b - a}') $(tail -1 "$work/n.csv")"
}

tsv=$out/mssql_writers.tsv
printf 'mode\tcap_mbs\tk\tseconds\trows_per_s\tspeedup\tefficiency\trss_mb\ttdspipe_cpu_s\tserver_cpu_s\trows_ok\n' >"$tsv"
measure() { # MODE CAPLABEL URI PID KS
  local mode=$1 capl=$2 d=$3 dpid=$4 base=""
  for k in $5; do
    local best="" rest="" ok=1
    for _ in $(seq "$runs"); do
      read -r s m tc sc got <<<"$(one "$d" "$dpid" "$mode" "$k")"
      [ "$got" = "$rows" ] || ok=0
      if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s rest="$m $tc $sc"; fi
    done
    [ -z "$base" ] && base=$best
    read -r m tc sc <<<"$rest"
    awk -v md="$mode" -v c="$capl" -v k="$k" -v s="$best" -v r="$rows" -v b="$base" -v m="$m" -v tc="$tc" \
      -v sc="$sc" -v ok="$ok" 'BEGIN{sp = (s > 0) ? b/s : 0; rps = (s > 0) ? r/s : 0; yes = ok ? "yes" : "NO"
      printf "%s\t%s\t%d\t%.2f\t%.0f\t%.2f\t%.2f\t%.1f\t%s\t%s\t%s\n", md, c, k, s, rps, sp, sp/k, m/1024, tc, sc, yes}' >>"$tsv"
    tail -1 "$tsv"
  done
}
measure heap "$cap" "$C" "$cpid" "$ks"
measure keyed "$cap" "$C" "$cpid" "$ks"
measure heap none "$O" "$opid" "1 12"

md=$out/mssql_writers.md
{
  echo "# SQL Server destination, parallel bulk writers: narrow $rows rows into tdstestd capped at $cap MB/s per connection"
  echo
  echo "Made by \`bench/mssql_writers.sh --rows $rows --cap $cap\` ($(date -u +%Y-%m-%d), $(nproc) CPUs:" \
    "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average at the end $(cut -d' ' -f1-3 /proc/loadavg);" \
    "best of $runs runs). heap: a query source, the stage renamed; keyed: the table with its key, the stage copied" \
    "into the keyed target in the transaction. server CPU: the destination tdstestd's user+system seconds during the load."
  echo
  echo "| mode | cap MB/s | K | seconds | rows/s | speed-up | speed-up / K | peak RSS MB | tdspipe CPU s | server CPU s | rows exact |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  tail -n +2 "$tsv" | awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}'
} >"$md"
echo "wrote $tsv $md"
