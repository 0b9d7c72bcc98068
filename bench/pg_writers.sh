#!/usr/bin/env bash
# bench/pg_writers.sh — PostgreSQL destination, copy_writers=K side by side
# (sink/pg_parallel.c): narrow 1M rows (tests/server/scenarios/narrow.json)
# from tdstestd into a throw-away PostgreSQL (tests/sink/pg_server.sh), K
# interleaved round by round (K=1 K=2 K=4, K=1 K=2 K=4, …) so that the
# machine's load hits each alike; prints each run and, per K, the medians of
# the wall time, tdspipe's CPU (user+sys), and from the server's log the
# COPY phase and the swap; checks every load's row count.
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
# statement times from the server's log: the COPY phase (the longest COPY
# of a run: they overlap) and the strategy's statements (the swap)
psql "$PG" -Atqc "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
pglog=$pgdir/server.log
phases() {
  tail -c +"$(($1 + 1))" "$pglog" | awk '
    /duration: .* statement: COPY/ { d = $0; sub(/.*duration: /, "", d); sub(/ ms.*/, "", d); if (d + 0 > c) c = d + 0 }
    /duration: .* statement: DROP TABLE IF EXISTS "public"."narrow/ { d = $0; sub(/.*duration: /, "", d); sub(/ ms.*/, "", d); s += d }
    END { printf "copy %.2f s swap %.2f s", c / 1000, s / 1000 }'
}
A="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"

echo "# narrow 1M → PostgreSQL ($strategy), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  for k in $ks; do
    off=$(stat -c %s "$pglog")
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$build/tdspipe" ingest --source-uri "$A" --source-table dbo.narrow \
      --dest-uri "$PG?copy_writers=$k" --dest-table public.narrow_k$k --incremental-strategy "$strategy" \
      --no-load-timestamp --extract-parallelism 1 --progress log >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
    n=$(psql "$PG" -Atqc "SELECT count(*) FROM public.narrow_k$k")
    [ "$strategy" != replace ] || [ "$n" = 1000000 ] || { echo "K=$k: $n rows"; exit 1; }
    read -r wall u s <"$work/t"
    ph=$(phases "$off")
    echo "round $r K=$k wall $wall s cpu $(echo "$u + $s" | bc) s $ph"
    echo "$k $wall $(echo "$u + $s" | bc) $(echo "$ph" | awk '{ print $2, $5 }')" >>"$work/all"
  done
done
median() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$work/all" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "K  median: wall_s  cpu_s  copy_s  swap_s"
for k in $ks; do
  echo "$k  $(median "$k" 2)  $(median "$k" 3)  $(median "$k" 4)  $(median "$k" 5)"
done
