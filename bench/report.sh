#!/usr/bin/env bash
# report.sh — turns bench/run's results lines (see lib.sh) into
# OUT/results.md (tables per dataset, the targets with measured ratios)
# and OUT/chart.png (rows/s per client and dataset, gnuplot, log scale).
#
#   report.sh RESULTS.tsv OUTDIR     (context in BENCH_* variables, set by run)
#
# Without gnuplot the chart is skipped with a note; the table is always made.
set -uo pipefail
res=${1:?results}
out=${2:?outdir}
md=$out/results.md

awk -F'\t' \
    -v date="${BENCH_DATE:-}" -v commit="${BENCH_COMMIT:-}" -v machine="${BENCH_MACHINE:-}" \
    -v load="${BENCH_LOAD:-}" -v runs="${BENCH_RUNS:-}" -v maxrun="${BENCH_MAX_RUN:-}" \
    -v build="${BENCH_BUILD:-}" -v elapsed="${BENCH_ELAPSED:-}" -v workbase="${BENCH_WORKBASE:-}" \
    -v binbytes="${BENCH_BIN_BYTES:-0}" -v version_ms="${BENCH_VERSION_MS:-}" -v loadnote="${BENCH_LOAD_NOTE:-}" '
function commas(n,   s) { s = sprintf("%d", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]([,]|$)/, ",&", s); return s }
function rate(i) { return w[i] == "-" ? 0 : rows[i] / w[i] }
function fmt_rate(r) { return r >= 1e6 ? sprintf("%.2f M", r / 1e6) : sprintf("%.0f k", r / 1e3) }
function find(c, d,   i) { for (i = 1; i <= n; i++) if (cl[i] == c && ds[i] == d) return i; return 0 }
function ratio_line(what, a, b, d, want,   ia, ib, r) {
    ia = find(a, d); ib = find(b, d)
    if (!ia || !ib || rate(ia) == 0 || rate(ib) == 0) {
        printf "| %s (%s) | ≥ %s | not measured | – |\n", what, d, want
        return
    }
    r = rate(ia) / rate(ib)
    printf "| %s (%s) | ≥ %s | %.2f× | %s |\n", what, d, want, r, (r >= want ? "met" : "**missed**")
}
{ n++; cl[n] = $1; ds[n] = $2; rows[n] = $3; bytes[n] = $4; w[n] = $5; lo[n] = $6; hi[n] = $7; cpu[n] = $8; rss[n] = $9; note[n] = $10
  if (!(($2) in seen)) { seen[$2] = 1; order[++nd] = $2 } }
END {
    print "# tdspipe benchmark results"
    print ""
    printf "- Date: %s; commit %s\n", date, commit
    printf "- Machine: %s\n", machine
    printf "- Load average: %s (other work on the machine makes wall times noisy)\n", load
    printf "- Build: %s; outputs written under %s\n", build, workbase
    printf "- Method: one warm-up, then %s timed runs per client, interleaved (A B C … A B C …); the median wall time is shown, spread = slowest − fastest run; CPU = user + system seconds of the client process (median); peak RSS = the largest of the runs. A client whose warm-up takes over %s s, or whose rate at a smaller size predicts that, is skipped at that size. Whole run: %s s.\n", runs, maxrun, elapsed
    print "- MB/s = the reply'"'"'s wire bytes (TDS packets, measured by the drain client) / wall time, for every client alike."
    for (k = 1; k <= nd; k++) {
        d = order[k]
        split(d, parts, "_")
        i0 = 0; for (i = 1; i <= n; i++) if (ds[i] == d) { i0 = i; break }
        print ""
        if (parts[2] ~ /^[0-9]+$/)
            printf "## %s, %s rows (%.1f MB on the wire, %.1f B/row)\n\n", parts[1], commas(parts[2]), bytes[i0] / 1e6, bytes[i0] / (rows[i0] ? rows[i0] : 1)
        else
            printf "## %s\n\n", d
        print "| client | rows/s | MB/s | wall s (median) | spread s | CPU s | peak RSS MB | note |"
        print "|---|---:|---:|---:|---:|---:|---:|---|"
        for (i = 1; i <= n; i++) {
            if (ds[i] != d) continue
            if (w[i] == "-") { printf "| %s | – | – | – | – | – | – | %s |\n", cl[i], note[i]; continue }
            mbs = bytes[i] / w[i] / 1e6
            printf "| %s | %s | " (mbs < 10 ? "%.1f" : "%.0f") " | %.3f | %.3f | %.2f | %.1f | %s |\n", cl[i], fmt_rate(rate(i)),
                mbs, w[i], hi[i] - lo[i], cpu[i], rss[i] / 1024, note[i]
        }
    }
    if (loadnote != "") { print ""; print "## Loads into SQL Server"; print ""; print loadnote }
    print ""
    print "## Targets"
    print ""
    print "| target | wanted | measured | |"
    print "|---|---:|---:|---|"
    for (k = 1; k <= nd; k++) {
        d = order[k]
        if (d ~ /^narrow_/) {
            ratio_line("into discard vs raw drain", "tdspipe-discard", "drain", d, 0.5)
        }
        if (d ~ /^(narrow|wide)_/) {
            ratio_line("into DuckDB vs into discard", "tdspipe-duckdb", "tdspipe-discard", d, 0.5)
            ratio_line("into Parquet vs into discard", "tdspipe-parquet", "tdspipe-discard", d, 0.5)
            ratio_line("into CSV vs freebcp queryout", "tdspipe-csv", "freebcp", d, 5)
            ratio_line("into CSV vs pytds", "tdspipe-csv", "pytds", d, 20)
        }
        if (find("load-tdspipe", d))
            ratio_line("load into SQL Server vs freebcp in", "load-tdspipe", "load-freebcp", d, 3)
    }
    # peak memory: flat in the row count and under 32 MB (narrow sizes)
    split("tdspipe-discard tdspipe-csv tdspipe-jsonl tdspipe-duckdb tdspipe-parquet tdspipe-postgres tdspipe-sqlite", mc, " ")
    for (j = 1; j in mc; j++) {
        c = mc[j]; lo_r = 0; hi_r = 0; list = ""
        for (k = 1; k <= nd; k++) {
            d = order[k]
            if (d !~ /^narrow_/) continue
            i = find(c, d)
            if (!i || w[i] == "-") continue
            m = rss[i] / 1024
            list = list (list == "" ? "" : ", ") sprintf("%.1f MB at %s", m, commas(rows[i]))
            if (lo_r == 0 || m < lo_r) lo_r = m
            if (m > hi_r) hi_r = m
        }
        if (list == "") continue
        nsz = split(list, tmp, ", ")
        cap = (c == "tdspipe-discard" || c == "tdspipe-csv")
        ok = hi_r <= lo_r * 1.25 + 1 && (!cap || hi_r < 32)
        if (nsz < 2) list = list " (one size: flatness not measured)"
        printf "| peak RSS of %s flat in rows%s | %s | %s | %s |\n", c, (cap ? ", under 32 MB" : ""), (cap ? "< 32 MB, flat" : "flat"), list, (ok ? "met" : "**missed**")
    }
    # the DuckDB share bounded (issue 17): every dataset under 160 MB
    split("tdspipe-duckdb tdspipe-parquet", mc, " ")
    for (j = 1; j in mc; j++) {
        c = mc[j]; hi_r = 0; list = ""
        for (k = 1; k <= nd; k++) {
            i = find(mc[j], order[k])
            if (!i || w[i] == "-") continue
            m = rss[i] / 1024
            list = list (list == "" ? "" : ", ") sprintf("%.1f MB %s", m, order[k])
            if (m > hi_r) hi_r = m
        }
        if (list != "")
            printf "| peak RSS of %s, every dataset | < 160 MB | %s | %s |\n", c, list, (hi_r < 160 ? "met" : "**missed**")
    }
    printf "| default binary size | < 8 MB | %.2f MB | %s |\n", binbytes / 1048576, (binbytes < 8 * 1048576 ? "met" : "**missed**")
    if (version_ms != "")
        printf "| `tdspipe --version` (median of 21, incl. fork/exec) | < 5 ms | %s ms | %s |\n", version_ms, (version_ms + 0 < 5 ? "met" : "**missed**")
    print ""
    print "![rows per second](chart.png)"
}' "$res" >"$md"

# ------------------------------------------------------------ chart
if ! command -v gnuplot >/dev/null; then
    echo "report: gnuplot not installed; no chart" >&2
    exit 0
fi
dat=$out/chart.dat
awk -F'\t' '
{ if (!($2 in seen)) { seen[$2] = 1; dso[++nd] = $2 }
  if (!($1 in cseen)) { cseen[$1] = 1; co[++nc] = $1 }
  v[$1, $2] = ($5 == "-") ? "-" : sprintf("%.4f", $3 / $5 / 1e6) }
END {
    printf "client"
    for (k = 1; k <= nd; k++) {
        split(dso[k], p, "_"); r = p[2]
        r = r >= 1e6 && r % 1e6 == 0 ? (r / 1e6) "M" : r >= 1e3 && r % 1e3 == 0 ? (r / 1e3) "k" : r
        printf "\t%s %s rows", p[1], r
    }
    printf "\n"
    for (j = 1; j <= nc; j++) {
        if (co[j] == "version") continue
        printf "%s", co[j]
        for (k = 1; k <= nd; k++) printf "\t%s", ((co[j], dso[k]) in v) ? v[co[j], dso[k]] : "-"
        printf "\n"
    }
}' "$res" >"$dat"
ncol=$(head -1 "$dat" | awk -F'\t' '{ print NF }')
# log axis from the decade below the slowest client
ymin=$(awk -F'\t' 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "-" && $i > 0 && (m == "" || $i < m)) m = $i }
    END { if (m == "") m = 1; e = 1; while (e > m) e /= 10; print e }' "$dat")
gnuplot <<EOF 2>"$out/gnuplot.log" || { echo "report: gnuplot failed: $(tail -2 "$out/gnuplot.log")" >&2; exit 0; }
set terminal pngcairo size 1200,640 font "sans,10" noenhanced
set output "$out/chart.png"
set title "Rows per second, median of ${BENCH_RUNS:-?} runs (${BENCH_DATE:-}, commit ${BENCH_COMMIT%% *}; load ${BENCH_LOAD%% at*})"
set datafile separator "\t"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 10
set yrange [$ymin:*]
set ylabel "million rows/s (log scale)"
set grid ytics
set key top right
set xtics rotate by -30
plot for [i=2:$ncol] "$dat" using i:xtic(1) title columnhead(i)
EOF
rm -f "$out/gnuplot.log"
