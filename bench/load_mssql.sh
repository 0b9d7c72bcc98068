#!/usr/bin/env bash
# load_mssql.sh — loads into SQL Server (build/tdstestd on loopback) from
# the same CSV: `tdspipe ingest` (CSV source → INSERT BULK + BulkLoadBCP,
# sink/mssql*.c) against FreeTDS `freebcp … in -c` into a table of the same
# definition. Two shapes: narrow (4 columns) and wide (20 columns).
#
# Called by bench/run (see bench/README.md, "Loads into SQL Server"): it
# reads BENCH_BUILD_DIR, BENCH_ROWS, BENCH_RUNS, BENCH_MAX_RUN, BENCH_WORK,
# BENCH_MEASURE, BENCH_LIB and prints one results line per client and shape
# (clients load-tdspipe and load-freebcp; datasets load-narrow_N and
# load-wide_N; bytes = the CSV's size). Standalone:
#
#   bench/load_mssql.sh [BUILD_DIR]     env ROWS (1000000), RUNS (5)
#
# Both tools load in batches of 100,000 rows (--page-size / -b). tdspipe
# reads and converts the CSV itself, typed by --columns so both tables are
# created identically; freebcp in char mode. One warm-up each, then the
# runs interleaved (tdspipe, freebcp, tdspipe, …); each run starts from an
# empty table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BENCH_BUILD_DIR:-${1:-$root/build}}
rows=${BENCH_ROWS:-${ROWS:-1000000}}
runs=${BENCH_RUNS:-${RUNS:-5}}
max_run=${BENCH_MAX_RUN:-300}
tdspipe=$build/tdspipe
tdstestd=$build/tdstestd
command -v freebcp >/dev/null || { echo "freebcp not found (apt install freetds-bin)" >&2; exit 2; }
standalone=0
if [ -z "${BENCH_LIB:-}" ]; then
    standalone=1
    BENCH_WORK=$(mktemp -d /tmp/tdspipe-loadbench.XXXXXX)
    BENCH_MEASURE=$build/bench_measure
    BENCH_LIB=$here/lib.sh
    export BENCH_WORK BENCH_MEASURE
fi
# shellcheck source=bench/lib.sh
. "$BENCH_LIB"
work=$BENCH_WORK/load
mkdir -p "$work"
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$work"
    [ "$standalone" = 1 ] && rm -rf "$BENCH_WORK"
    return 0
}
trap cleanup EXIT

"$tdstestd" --scenario "$root/tests/server/scenarios/alltypes.json" --port 0 >"$work/srv" 2>"$work/srv.err" &
pid=$!
port=
for _ in $(seq 200); do
    port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$work/srv" | head -1 || true)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "tdstestd did not start: $(tail -1 "$work/srv.err")" >&2; exit 1; }
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
cat >"$work/freetds.conf" <<EOF
[global]
    tds version = 7.4
[t]
    host = 127.0.0.1
    port = $port
    tds version = 7.4
    encryption = off
EOF
export FREETDSCONF=$work/freetds.conf

# narrow: id, bigint, float, short text. wide: 20 columns of every common kind.
awk -v n="$rows" 'BEGIN { print "id,amount,ratio,label";
  for (i = 1; i <= n; i++) printf "%d,%d,%.4f,item-%d\n", i, i * 37, i / 7.0, i }' >"$work/narrow.csv"
narrow_cols=(--columns id:int --columns amount:bigint --columns ratio:float --columns "label:nvarchar(40)")
awk -v n="$rows" 'BEGIN {
  printf "id"; for (c = 1; c <= 19; c++) printf ",c%d", c; print "";
  for (i = 1; i <= n; i++) {
    printf "%d,%d,%d,%.3f,%.6f,%s,name-%d,code%d,2024-%02d-%02d,2024-01-%02d %02d:%02d:%02d,%d,%d,%.2f,desc-%d-abcdefghij,%d,%s,x%d,%d,%.1f,tail-%d\n",
      i, i % 100, i * 3, i / 3.0, i / 9.0, (i % 2 ? "1" : "0"), i, i % 1000, i % 12 + 1, i % 28 + 1,
      i % 28 + 1, i % 24, i % 60, i % 60, i * 7, -i, i / 100.0, i, i % 5, (i % 3 ? "yes" : "no"), i, i % 7, i / 2.0, i
  } }' >"$work/wide.csv"
wide_cols=(--columns id:int --columns c1:smallint --columns c2:bigint --columns c3:float --columns c4:float
  --columns c5:bit --columns "c6:nvarchar(40)" --columns "c7:nvarchar(20)" --columns c8:date
  --columns "c9:datetime2(0)" --columns c10:bigint --columns c11:bigint --columns "c12:decimal(18,2)"
  --columns "c13:nvarchar(60)" --columns c14:int --columns "c15:nvarchar(10)" --columns "c16:nvarchar(20)"
  --columns c17:int --columns c18:float --columns "c19:nvarchar(40)")

sql() { printf '%s\ngo\nexit\n' "$1" | tsql -S t -U sa -P 'Passw0rd!' -D types >/dev/null 2>&1; }
count() { # rows in a table, read back through tdspipe
    rm -f "$work/count.csv"
    "$tdspipe" ingest --source-uri "$U" --source-table "query:SELECT COUNT(*) AS n FROM $1" \
        --dest-uri "csv://$work/count.csv" --dest-table x --no-load-timestamp >/dev/null 2>&1 || true
    tail -1 "$work/count.csv" 2>/dev/null | tr -d '\r'
}

for shape in narrow wide; do
    csv=$work/$shape.csv
    declare -n cols=${shape}_cols
    ds=load-${shape}_$rows
    bytes=$(stat -c %s "$csv")
    # freebcp needs the table to exist: the same definition, created by tdspipe from the header alone
    head -1 "$csv" >"$work/header.csv"
    "$tdspipe" ingest --source-uri "csv://$work/header.csv" --source-table x --dest-uri "$U" \
        --dest-table "dbo.${shape}_bcp" --incremental-strategy replace --no-load-timestamp "${cols[@]}" >/dev/null 2>&1
    tail -n +2 "$csv" >"$work/data.csv"
    ours=(timeout "$max_run" "$tdspipe" ingest --source-uri "csv://$csv" --source-table x --dest-uri "$U"
        --dest-table "dbo.${shape}_ours" --incremental-strategy replace --no-load-timestamp
        --page-size 100000 --progress log "${cols[@]}")
    theirs=(timeout "$max_run" freebcp "types.dbo.${shape}_bcp" in "$work/data.csv" -c -t , -b 100000
        -S t -U sa -P 'Passw0rd!' -D types)
    failed_ours='' failed_bcp=''
    for r in $(seq 0 "$runs"); do
        bench_sample load-tdspipe "$ds" "$work/ours.log" "${ours[@]}" || { failed_ours="failed: $(tail -1 "$work/ours.log")"; }
        [ "$(count "${shape}_ours")" = "$rows" ] || failed_ours=${failed_ours:-"failed: the table holds $(count "${shape}_ours") rows"}
        sql "TRUNCATE TABLE dbo.${shape}_bcp"
        bench_sample load-freebcp "$ds" "$work/bcp.log" "${theirs[@]}" || true
        if ! grep -q "^$rows rows copied" "$work/bcp.log" || grep -q '^Msg ' "$work/bcp.log"; then
            failed_bcp="failed: $(grep -m1 'Msg\|rows copied' "$work/bcp.log" || tail -1 "$work/bcp.log")"
        fi
        if [ "$r" = 0 ]; then # the warm-up
            bench_forget load-tdspipe "$ds"
            bench_forget load-freebcp "$ds"
        fi
    done
    if [ -n "$failed_ours" ]; then bench_forget load-tdspipe "$ds"; fi
    if [ -n "$failed_bcp" ]; then bench_forget load-freebcp "$ds"; fi
    line_ours=$(bench_stats load-tdspipe "$ds" "$rows" "$bytes" "$failed_ours")
    line_bcp=$(bench_stats load-freebcp "$ds" "$rows" "$bytes" "$failed_bcp")
    if [ "$standalone" = 1 ]; then
        for l in "$line_ours" "$line_bcp"; do
            echo "$l" | awk -F'\t' '{ if ($5 == "-") print $1, $2, $10; else printf "%-13s %-18s %8.3f s  %10.0f rows/s  cpu %.2f s  rss %d MB\n", $1, $2, $5, $3 / $5, $8, $9 / 1024 }'
        done
    else
        printf '%s\n%s\n' "$line_ours" "$line_bcp"
    fi
    [ -z "$failed_ours" ] || { echo "tdspipe $shape: $failed_ours" >&2; exit 1; }
done
