#!/usr/bin/env bash
# bench/duckdb_ceiling.sh — how close can a load into DuckDB come to the
# discard rate on this machine? Side by side, per dataset (narrow and wide,
# 1M rows each, bench/README.md), rounds interleaved so the machine's load
# hits each alike:
#
#   discard            tdspipe into discard:// (the engine's rate)
#   duckdb, duckdb-t2  tdspipe into duckdb:// (default; ?threads=2)
#   parquet, parquet-t2
#   alone-t1, alone-t2 DuckDB by itself, no tdspipe and no server: the same
#                      rows, already in DuckDB's memory, inserted into a
#                      new database file (CREATE TABLE AS … then CHECKPOINT)
#                      with 1 and 2 threads; its cost is the run minus the
#                      same run without the insert (medians of each)
#
# and the CPU budget of issue 17's target: at half the discard rate a load
# may take 2 × the discard wall time, i.e. 2 CPUs × 2 × that much CPU;
# what no DuckDB load can avoid is DuckDB's own insert (alone, its best of
# 1 or 2 threads) + tdspipe's decoding (discard's CPU) + the server's
# sending (tdstestd's CPU during discard). needed/available > 1 means no
# client can reach 0.5× on this machine.
#
#   bench/duckdb_ceiling.sh [BUILD_DIR (default build-rel)] [ROUNDS (3)] [OUT_DIR (bench/results)]
#
# Needs libduckdb.so (scripts/get_duckdb.sh). Writes OUT_DIR/duckdb_ceiling.md
# and .tsv (median wall and CPU seconds, peak RSS, file bytes).
set -eu
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$src/build-rel}" && pwd)
rounds=${2:-3}
out=${3:-$src/bench/results}
export TDSPIPE_DUCKDB_LIB=${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}
[ -s "$TDSPIPE_DUCKDB_LIB" ] || { echo "duckdb_ceiling: no libduckdb.so (bash scripts/get_duckdb.sh)" >&2; exit 1; }
base=/tmp
[ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt 8000000 ] && base=/dev/shm
work=$(mktemp -d "$base/tdspipe-ceiling.XXXXXX")
srv=""
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
measure=$build/bench_measure
ddbq=$build/ddb_query
hz=$(getconf CLK_TCK)

start_server() { # TABLE ROWS SCENARIO → $srv, $port
  local T
  T=$(echo "$1" | tr 'a-z' 'A-Z')
  env "TDSTESTD_ROWS_$T=$2" "$build/tdstestd" --scenario "$3" --port 0 >"$work/srv.log" 2>&1 &
  srv=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$work/srv.log" | head -1)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "duckdb_ceiling: tdstestd did not start" >&2
  exit 1
}
server_cpu() { awk -v hz="$hz" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$srv/stat"; }

# sample CLIENT CMD…: one run; appends "wall cpu rss_kb server_cpu bytes" to $work/s.CLIENT
sample() {
  local c=$1
  shift
  local before after
  before=$(server_cpu)
  rm -rf "$work/dest" && mkdir "$work/dest"
  "$measure" "$work/m" -- "$@" >"$work/log" 2>&1 || { echo "duckdb_ceiling: $c failed: $(tail -2 "$work/log")" >&2; exit 1; }
  after=$(server_cpu)
  local wall user sys rss code bytes
  read -r wall user sys rss code <"$work/m"
  bytes=$(du -sb "$work/dest" | cut -f1)
  echo "$wall $(echo "$user + $sys" | bc -l) $rss $(echo "$after - $before" | bc -l) $bytes" >>"$work/s.$c"
}
median() { sort -g | awk '{ a[NR] = $1 } END { printf "%.3f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -v k="$2" '{ print $k }' "$work/s.$1" | median; } # CLIENT FIELD → median
maxcol() { awk -v k="$2" 'BEGIN { m = 0 } $k > m { m = $k } END { print m }' "$work/s.$1"; }

printf 'dataset\tclient\twall_s\tcpu_s\trss_mb\tserver_cpu_s\tbytes\n' >"$work/tsv"
{
  echo "# DuckDB's ceiling on this machine"
  echo
  echo "\`bench/duckdb_ceiling.sh\`, $(date -u +%Y-%m-%d), commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?'),"
  echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), DuckDB $("$ddbq" :memory: 'select version()'),"
  echo "median of $rounds interleaved rounds; CPU = user + system of the client (tdstestd's own CPU apart)."
} >"$work/md"

for ds in narrow wide; do
  case $ds in
    narrow) scen=$src/tests/server/scenarios/narrow.json ;;
    wide) scen=$src/bench/scenarios/wide.json ;;
  esac
  rows=${CEILING_ROWS:-1000000}
  start_server "$ds" "$rows" "$scen"
  ing=("$build/tdspipe" ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"
       --source-table "dbo.$ds" --progress log --no-load-timestamp --extract-parallelism 1)
  rm -f "$work"/s.*
  # the rows for DuckDB alone, loaded once
  "${ing[@]}" --dest-uri "duckdb:///$work/rows.duckdb" --dest-table "main.$ds" >"$work/log" 2>&1
  gen="ATTACH '$work/rows.duckdb' AS r (READ_ONLY); ATTACH ':memory:' AS m; CREATE TABLE m.x AS SELECT * FROM r.main.$ds"
  for r in $(seq "$rounds"); do
    echo "duckdb_ceiling: $ds round $r/$rounds" >&2
    sample discard "${ing[@]}" --dest-uri discard://
    sample duckdb "${ing[@]}" --dest-uri "duckdb:///$work/dest/o.duckdb" --dest-table "main.$ds"
    sample duckdb-t2 "${ing[@]}" --dest-uri "duckdb:///$work/dest/o.duckdb?threads=2" --dest-table "main.$ds"
    sample parquet "${ing[@]}" --dest-uri "parquet://$work/dest/o.parquet" --dest-table "$ds"
    sample parquet-t2 "${ing[@]}" --dest-uri "parquet://$work/dest/o.parquet?threads=2" --dest-table "$ds"
    for t in 1 2; do
      sample "gen-t$t" "$ddbq" "$work/dest/g.duckdb" "SET threads = $t; $gen"
      sample "alone-t$t" "$ddbq" "$work/dest/g.duckdb" \
        "SET threads = $t; $gen; CREATE TABLE main.t AS SELECT * FROM m.x; CHECKPOINT"
    done
  done
  kill "$srv" && wait "$srv" 2>/dev/null || true
  srv=""
  dw=$(col discard 1)
  {
    echo
    echo "## $ds, $rows rows"
    echo
    echo "| client | wall s | × discard rate | CPU s | peak RSS MB | tdstestd CPU s | output MB |"
    echo "|---|---|---|---|---|---|---|"
  } >>"$work/md"
  for c in discard duckdb duckdb-t2 parquet parquet-t2 alone-t1 alone-t2; do
    w=$(col "$c" 1) cpu=$(col "$c" 2) rss=$(echo "$(maxcol "$c" 3) / 1024" | bc) s=$(col "$c" 4) b=$(col "$c" 5)
    case $c in alone-*) # the insert alone: minus the same run without it
      g=gen-${c#alone-}
      w=$(echo "$w - $(col "$g" 1)" | bc -l) cpu=$(echo "$cpu - $(col "$g" 2)" | bc -l) s=0 ;;
    esac
    printf '%s\t%s\t%.3f\t%.3f\t%s\t%.3f\t%s\n' "$ds" "$c" "$w" "$cpu" "$rss" "$s" "$b" >>"$work/tsv"
    printf '| %s | %.2f | %.2f | %.2f | %s | %.2f | %.1f |\n' "$c" "$w" "$(echo "$dw / $w" | bc -l)" "$cpu" "$rss" "$s" \
      "$(echo "$b / 1000000" | bc -l)" >>"$work/md"
  done
  a1=$(awk -F'\t' -v d="$ds" '$1 == d && $2 == "alone-t1" { print $4 }' "$work/tsv")
  a2=$(awk -F'\t' -v d="$ds" '$1 == d && $2 == "alone-t2" { print $4 }' "$work/tsv")
  alone=$(echo "if ($a1 < $a2) $a1 else $a2" | bc -l)
  need=$(echo "$alone + $(col discard 2) + $(col discard 4)" | bc -l)
  have=$(echo "$(nproc) * 2 * $dw" | bc -l)
  {
    echo
    printf 'At 0.5× of discard a load may take %.2f s, so %.2f CPU-s on %s CPUs. It needs at least %.2f: DuckDB'"'"'s own insert %.2f (its best of 1 and 2 threads) + tdspipe decoding %.2f + tdstestd sending %.2f. **needed / available = %.2f.**\n' \
      "$(echo "2 * $dw" | bc -l)" "$have" "$(nproc)" "$need" "$alone" "$(col discard 2)" "$(col discard 4)" "$(echo "$need / $have" | bc -l)"
  } >>"$work/md"
done
mkdir -p "$out"
cp "$work/md" "$out/duckdb_ceiling.md"
cp "$work/tsv" "$out/duckdb_ceiling.tsv"
cat "$out/duckdb_ceiling.md"
