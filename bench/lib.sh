# lib.sh — bench/run's measuring and reporting helpers (sourced, bash).
# bench/load_mssql.sh may source it too ($BENCH_LIB) to time its commands
# the same way.
#
# One sample = one run of a command under bench_measure: wall seconds,
# user and system CPU seconds, peak RSS (KiB). Samples of one client on one
# dataset go to $BENCH_WORK/samples/<dataset>/<client>, one line each.
# bench_stats prints the aggregate as one results line (tab-separated):
#
#   client dataset rows bytes wall_median wall_min wall_max cpu_median rss_max_kb note
#
# rows/s and MB/s are computed from the median wall time when the report is
# written; a line whose wall fields are "-" carries only a note (skipped,
# failed). That line format is also what load_mssql.sh prints on stdout.

# bench_sample CLIENT DATASET LOG CMD... : one measured run. Appends the
# sample and returns the command's exit status; its output goes to LOG.
bench_sample() {
    local client=$1 ds=$2 log=$3
    shift 3
    mkdir -p "$BENCH_WORK/samples/$ds"
    local m="$BENCH_WORK/measure.$$"
    local st=0
    "$BENCH_MEASURE" "$m" -- "$@" >"$log" 2>&1 || st=$?
    if [ -s "$m" ]; then
        local wall user sys rss code
        read -r wall user sys rss code <"$m"
        if [ "$st" = 0 ]; then
            echo "$wall $user $sys $rss" >>"$BENCH_WORK/samples/$ds/$client"
        fi
    fi
    rm -f "$m"
    return "$st"
}

# bench_forget CLIENT DATASET : drops the samples (the warm-up's).
bench_forget() { rm -f "$BENCH_WORK/samples/$2/$1"; }

# bench_stats CLIENT DATASET ROWS BYTES [NOTE] : the results line.
bench_stats() {
    local f="$BENCH_WORK/samples/$2/$1"
    if [ ! -s "$f" ]; then
        printf '%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t%s\n' "$1" "$2" "$3" "$4" "${5:-no samples}"
        return
    fi
    awk -v c="$1" -v d="$2" -v r="$3" -v b="$4" -v note="${5:-}" '
        { w[NR] = $1; cpu[NR] = $2 + $3; if ($4 > rss) rss = $4 }
        function median(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        END {
            n = NR
            for (i = 1; i <= n; i++) { ws[i] = w[i] }
            mw = median(ws, n); lo = ws[1]; hi = ws[n]
            mc = median(cpu, n)
            printf "%s\t%s\t%s\t%s\t%.4f\t%.4f\t%.4f\t%.3f\t%d\t%s\n", c, d, r, b, mw, lo, hi, mc, rss, note
        }' "$f"
}
