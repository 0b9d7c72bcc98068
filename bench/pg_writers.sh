#!/usr/bin/env bash
# bench/pg_writers.sh — PostgreSQL destination, copy_writers=K side by side
# (sink/pg_parallel.c): narrow 1M rows (tests/server/scenarios/narrow.json)
# from tdstestd into a throw-away PostgreSQL (tests/sink/pg_server.sh), K
# interleaved round by round (K=1 K=2 K=4, K=1 K=2 K=4, …) so that the
# machine's load hits each alike; prints each run and the median wall time
# and CPU (user+sys of tdspipe) per K, and checks every load's row count.
#
#   bench/pg_writers.sh [BUILD_DIR (default build-rel)] [ROUNDS (5)] [KS ("1 2 4")] [STRATEGY (replace)]
set -eu
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$src/build-rel}" && pwd)
rounds=${2:-5}
ks=${3:-1 2 4}
strategy=${4:-replace}
work=$(mktemp -d /tmp/tdspipe-pgw.XXXXXX)
pgdir=$(mktemp -d /tmp/tdspipe-pg.XXXXXX)
srv=""
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  bash "$src/tests/sink/pg_server.sh" stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$work" "$pgdir"
}
trap cleanup EXIT

pgport=$(bash "$src/tests/sink/pg_server.sh" start "$pgdir")
PG="postgresql://postgres@127.0.0.1:$pgport/postgres"
"$build/tdstestd" --scenario "$src/tests/server/scenarios/narrow.json" --port 0 >"$work/srv.log" 2>&1 &
srv=$!
for _ in $(seq 100); do
  port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$work/srv.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.05
done
A="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"

echo "# narrow 1M → PostgreSQL ($strategy), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  for k in $ks; do
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$build/tdspipe" ingest --source-uri "$A" --source-table dbo.narrow \
      --dest-uri "$PG?copy_writers=$k" --dest-table public.narrow_k$k --incremental-strategy "$strategy" \
      --no-load-timestamp --extract-parallelism 1 --progress log >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
    n=$(psql "$PG" -Atqc "SELECT count(*) FROM public.narrow_k$k")
    [ "$strategy" != replace ] || [ "$n" = 1000000 ] || { echo "K=$k: $n rows"; exit 1; }
    read -r wall u s <"$work/t"
    echo "round $r K=$k wall $wall s cpu $(echo "$u + $s" | bc) s"
    echo "$k $wall $(echo "$u + $s" | bc)" >>"$work/all"
  done
done
echo "K  median_wall_s  median_cpu_s"
for k in $ks; do
  w=$(awk -v k="$k" '$1 == k { print $2 }' "$work/all" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  c=$(awk -v k="$k" '$1 == k { print $3 }' "$work/all" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  echo "$k  $w  $c"
done
