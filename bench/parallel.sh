#!/usr/bin/env bash
# parallel.sh — parallel reads (issue 16, docs/parallel.md) against a
# tdstestd whose every connection is capped (--rate-limit-mbs: a real
# server's per-session rate): the narrow table read with
# --extract-parallelism N into discard, CSV and DuckDB; elapsed seconds,
# rows/s, speed-up over N = 1 and tdspipe's peak RSS; each run's rows
# checked. Writes OUT/parallel.tsv, OUT/parallel.md and OUT/parallel.png
# (gnuplot; skipped with a note when missing).
#
#   bench/parallel.sh [--rows 10000000] [--cap 16] [--n "1 2 4 8"]
#                     [--dests "discard csv duckdb"] [--runs 2]
#                     [--build-dir build-rel] [--out bench/results]
#
# N = 1 is the sequential read (--extract-parallelism 1); N > 1 splits on
# the clustered key id (--extract-partition-by id, auto: 4 windows per
# connection). The best of --runs runs is kept (the machine is shared).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=10000000 cap=16 ns="1 2 4 8" dests="discard csv duckdb" runs=2
build=${BUILD_DIR:-$root/build-rel} out=$root/bench/results
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift ;; --cap) cap=$2; shift ;; --n) ns=$2; shift ;;
    --dests) dests=$2; shift ;; --runs) runs=$2; shift ;;
    --build-dir) build=$(cd "$2" && pwd); shift ;; --out) out=$2; shift ;;
    *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift
done
work=$(mktemp -d /tmp/tdspipe-parbench.XXXXXX)
srv=""
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; rm -rf "$work"' EXIT
TDSTESTD_ROWS_NARROW=$rows "$build/tdstestd" --scenario "$root/tests/server/scenarios/narrow.json" --port 0 \
  --rate-limit-mbs "$cap" >"$work/srv.out" 2>"$work/srv.err" &
srv=$!
for _ in $(seq 100); do port=$(sed -n 's/^port //p' "$work/srv.out"); [ -n "$port" ] && break; sleep 0.05; done
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"
export TDSPIPE_DUCKDB_LIB=${TDSPIPE_DUCKDB_LIB:-$(bash "$root/scripts/get_duckdb.sh")}

# one run: prints "seconds rss_kb rows" (rows as the destination holds them)
one() {
  local dest=$1 n=$2 uri args=(--extract-parallelism 1)
  rm -f "$work/o.csv" "$work/o.duckdb" "$work/o.duckdb.wal"
  case $dest in
    discard) uri=discard:// ;; csv) uri=csv://$work/o.csv ;; duckdb) uri=duckdb:///$work/o.duckdb ;;
  esac
  [ "$n" -gt 1 ] && args=(--extract-partition-by id --extract-parallelism "$n")
  /usr/bin/time -f "%e %M" -o "$work/time" "$build/tdspipe" ingest --source-uri "$U" --source-table dbo.narrow \
    --dest-uri "$uri" --dest-table narrow --no-load-timestamp --progress log "${args[@]}" >"$work/log" 2>&1 || {
    echo "FAIL $dest N=$n: $(tail -1 "$work/log")" >&2; echo "0 0 0"; return; }
  local got
  case $dest in
    discard) got=$(sed -n 's/.*loaded \([0-9]*\) rows.*/\1/p' "$work/log") ;;
    csv) got=$(($(wc -l <"$work/o.csv") - 1)) ;;
    duckdb) got=$("$build/ddb_query" "$work/o.duckdb" "select count(distinct id) from narrow") ;;
  esac
  echo "$(cat "$work/time") $got"
}

tsv=$out/parallel.tsv
printf 'dest\tn\tseconds\trows_per_s\tspeedup\tefficiency\trss_mb\trows_ok\n' >"$tsv"
for dest in $dests; do
  base=""
  for n in $ns; do
    best="" rss="" ok=1
    for _ in $(seq "$runs"); do
      read -r s m got <<<"$(one "$dest" "$n")"
      [ "$got" = "$rows" ] || ok=0
      if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s rss=$m; fi
    done
    [ -z "$base" ] && base=$best
    awk -v d="$dest" -v n="$n" -v s="$best" -v r="$rows" -v b="$base" -v m="$rss" -v ok="$ok" \
      'BEGIN{sp=b/s; printf "%s\t%d\t%.2f\t%.0f\t%.2f\t%.2f\t%.1f\t%s\n", d, n, s, r/s, sp, sp/n, m/1024, ok?"yes":"NO"}' >>"$tsv"
    tail -1 "$tsv"
  done
done

md=$out/parallel.md
{
  echo "# Parallel reads: narrow $rows rows, tdstestd capped at $cap MB/s per connection"
  echo
  echo "Made by \`bench/parallel.sh --rows $rows --cap $cap\` ($(date -u +%Y-%m-%d), $(nproc) CPUs: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); best of $runs runs)."
  echo
  echo "| destination | N | seconds | rows/s | speed-up | speed-up / N | peak RSS MB | rows exact |"
  echo "|---|---|---|---|---|---|---|---|"
  tail -n +2 "$tsv" | awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8}'
} >"$md"
if command -v gnuplot >/dev/null; then
  for d in $dests; do awk -F'\t' -v d="$d" '$1 == d {print $2, $4}' "$tsv" >"$work/$d.dat"; done
  plot=""
  for d in $dests; do plot="$plot${plot:+, }'$work/$d.dat' using 1:2 with linespoints title '$d'"; done
  gnuplot <<EOF
set terminal png size 800,500
set output '$out/parallel.png'
set title 'narrow $rows rows, $cap MB/s per connection'
set xlabel 'connections (--extract-parallelism)'
set ylabel 'rows/s'
set logscale x 2
set key left top
plot $plot
EOF
else
  echo "(gnuplot missing: no chart)" >>"$md"
fi
echo "wrote $tsv $md"
