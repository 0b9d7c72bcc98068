#!/usr/bin/env bash
# load_mssql.sh — rows/s of loading a CSV into SQL Server (build/tdstestd
# on loopback): `tdspipe ingest` (CSV source → INSERT BULK + BulkLoadBCP,
# sink/mssql.c) against FreeTDS `freebcp … in` of the same CSV into a
# table of the same definition. Two shapes: narrow (4 columns) and wide
# (20 columns), ROWS rows each (default 1,000,000).
#
#   bench/load_mssql.sh [BUILD_DIR]      (a Release build: build-rel)
#   env: ROWS=1000000 RUNS=3 (best of RUNS is reported)
#
# Both tools load in batches of 100,000 rows (--page-size / -b); tdspipe
# reads and converts the CSV itself (typed by --columns, so both tables are
# created identically and no inference runs), freebcp in char mode.
# Prints one line per tool and shape, plus the machine's load average (the
# machine may be shared: compare numbers from the same run only).
set -euo pipefail
build=${1:-build-rel}
rows=${ROWS:-1000000}
runs=${RUNS:-3}
tdspipe=$build/tdspipe
tdstestd=$build/tdstestd
here=$(cd "$(dirname "$0")/.." && pwd)
command -v freebcp >/dev/null || { echo "freebcp not found (apt install freetds-bin)"; exit 2; }
work=$(mktemp -d /tmp/tdspipe-loadbench.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

: >"$work/srv"
"$tdstestd" --scenario "$here/tests/server/scenarios/alltypes.json" --port 0 >"$work/srv" 2>"$work/srv.err" &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$work/srv" | head -1 || true)
  [ -n "$port" ] && break
  sleep 0.05
done
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

now() { date +%s.%N; }
best() { sort -n | head -1; }
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); rows per shape: $rows"
for shape in narrow wide; do
  csv=$work/$shape.csv
  declare -n cols=${shape}_cols
  mb=$(($(stat -c %s "$csv") / 1048576))
  # tdspipe
  t_ours=$(for r in $(seq "$runs"); do
    s=$(now)
    "$tdspipe" ingest --source-uri "csv:///$csv" --source-table x --dest-uri "$U" --dest-table "dbo.${shape}_ours" \
      --incremental-strategy replace --no-load-timestamp --page-size 100000 --progress log "${cols[@]}" \
      >"$work/ours.log" 2>&1 || { cat "$work/ours.log" >&2; exit 1; }
    e=$(now)
    echo "$e - $s" | bc
  done | best)
  # every row arrived
  rm -f "$work/count.csv"
  "$tdspipe" ingest --source-uri "$U" --source-table "query:SELECT COUNT(*) AS n FROM ${shape}_ours" \
    --dest-uri "csv:///$work/count.csv" --dest-table x --no-load-timestamp >/dev/null 2>&1
  [ "$(tail -1 "$work/count.csv" | tr -d '\r')" = "$rows" ] || { echo "tdspipe loaded $(tail -1 "$work/count.csv") rows" >&2; exit 1; }
  # the same table definition for freebcp, empty: tdspipe from the header alone
  head -1 "$csv" >"$work/header.csv"
  "$tdspipe" ingest --source-uri "csv:///$work/header.csv" --source-table x --dest-uri "$U" \
    --dest-table "dbo.${shape}_bcp" --incremental-strategy replace --no-load-timestamp "${cols[@]}" >/dev/null 2>&1
  tail -n +2 "$csv" >"$work/data.csv"
  t_bcp=$(for r in $(seq "$runs"); do
    printf 'TRUNCATE TABLE dbo.%s_bcp\ngo\nexit\n' "$shape" |
      tsql -S t -U sa -P 'Passw0rd!' -D types >/dev/null 2>&1
    s=$(now)
    freebcp "types.dbo.${shape}_bcp" in "$work/data.csv" -c -t , -b 100000 -S t -U sa -P 'Passw0rd!' -D types \
      >"$work/bcp.log" 2>&1
    e=$(now)
    grep -q "^$rows rows copied" "$work/bcp.log" || { tail -5 "$work/bcp.log" >&2; exit 1; }
    echo "$e - $s" | bc
  done | best)
  printf '%-6s %4d MB  tdspipe (CSV → bulk): %6.2f s  %9.0f rows/s   freebcp in: %6.2f s  %9.0f rows/s\n' \
    "$shape" "$mb" "$t_ours" "$(echo "$rows / $t_ours" | bc -l)" "$t_bcp" "$(echo "$rows / $t_bcp" | bc -l)"
done
echo "after: load average $(cut -d' ' -f1-3 /proc/loadavg)"
