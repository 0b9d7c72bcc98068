#!/usr/bin/env bash
# changes_apply.sh — changes applied per second by an incremental
# `tdspipe ingest` from Change Tracking (mssql+ct://) and Change Data
# Capture (mssql+cdc://) sources into DuckDB and PostgreSQL.
#
#   bench/changes_apply.sh [BUILD_DIR] [RUNS]
#
# Defaults: build-changes (configured as Release with the tests off when
# it has no CMakeCache.txt; tdspipe, tdstestd and bench_measure are built),
# 3 runs. CHANGES_ROWS (default 200000) sets the table's size.
#
# Method: one tdstestd serves bench/scenarios/changes.json (dbo.chg: int key
# and four columns, tracked by Change Tracking and captured by CDC with
# immediate capture). Four destinations (ct→DuckDB, ct→PostgreSQL,
# cdc→DuckDB, cdc→PostgreSQL) each get an initial snapshot run. Then, per
# run r, one window of 100,000 changes is committed on the source as a few
# big statements (60,000 updates of ids 1..60000, 20,000 deletes of a fresh
# id range, 20,000 inserts of new ids: 1,000 rows per INSERT), and each of
# the four incremental runs that apply it is timed by bench_measure (wall,
# CPU of tdspipe, its peak RSS; tdstestd and PostgreSQL's backend are not
# counted). After every run the destination must hold exactly the source's
# live rows (rows with _cdc_deleted false = source COUNT(*)), the run's
# tombstones (_cdc_deleted true = every id deleted so far) and the round's
# values (v = 1000 + r on 80,000 rows, as on the source); otherwise the
# script stops with an error: a wrong result is not a benchmark.
# Output: a Markdown table (median wall of RUNS runs, min–max, changes/s
# from the median, median CPU, largest peak RSS) and the load average.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-changes}
runs=${2:-3}
rows=${CHANGES_ROWS:-200000}
py=/usr/bin/python3

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTDSPIPE_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target tdspipe tdstestd bench_measure >/dev/null
export TDSPIPE_DUCKDB_LIB=${TDSPIPE_DUCKDB_LIB:-$(bash "$root/scripts/get_duckdb.sh")}
export TDSTESTD_ROWS_CHG=$rows

work=$(mktemp -d /tmp/changes_apply.XXXXXX)
pgdir=$(mktemp -d /tmp/changes_apply-pg.XXXXXX) # its own: the postgres user must enter it
srv_pid=""
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
  bash "$root/tests/sink/pg_server.sh" stop "$pgdir" || true
  rm -rf "$pgdir"
  [ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

"$build/tdstestd" --scenario "$root/bench/scenarios/changes.json" --port 0 >"$work/srv.out" 2>"$work/srv.err" &
srv_pid=$!
for _ in $(seq 100); do grep -q '^port' "$work/srv.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^port/ {print $2; exit}' "$work/srv.out")
pg_port=$(bash "$root/tests/sink/pg_server.sh" start "$pgdir")
pg_uri="postgresql://postgres@127.0.0.1:$pg_port/postgres"
export PGOPTIONS="-c client_min_messages=warning"
src_uri() { echo "mssql+$1://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"; }
dest_uri() { if [ "$2" = duckdb ]; then echo "duckdb:///$work/$1.duckdb"; else echo "$pg_uri"; fi; }

# The source's side (pytds) and DuckDB's counts (libduckdb through ctypes).
cat >"$work/helper.py" <<'EOF'
import ctypes, os, sys
cmd = sys.argv[1]
if cmd in ("window", "src"):
    import pytds
    port, r, rows = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    con = pytds.connect(server="127.0.0.1", port=port, user="sa", password="Passw0rd!", database="bench",
                        autocommit=True)
    cur = con.cursor()
    v = 1000 + r
    if cmd == "window":
        n = 0
        cur.execute("UPDATE chg SET v = %d, s = N'round %d', amount = %d.25 WHERE id BETWEEN 1 AND 60000" % (v, r, r))
        n += cur.rowcount
        lo = rows // 2 + (r - 1) * 20000 + 1
        cur.execute("DELETE FROM chg WHERE id BETWEEN %d AND %d" % (lo, lo + 19999))
        n += cur.rowcount
        base = rows + (r - 1) * 20000
        for b in range(20):
            vals = ",".join("(%d, %d, N'new %d', %d.50, '2024-01-02 03:04:05.678')" % (i, v, i, r)
                            for i in range(base + b * 1000 + 1, base + b * 1000 + 1001))
            cur.execute("INSERT INTO chg (id, v, s, amount, ts) VALUES " + vals)
            n += cur.rowcount
        if n != 100000:
            sys.exit("window %d: %d changes, not 100000" % (r, n))
    cur.execute("SELECT COUNT(*) FROM chg")
    live = cur.fetchone()[0]
    cur.execute("SELECT COUNT(*) FROM chg WHERE v = %d" % v)
    print(live, 20000 * r, cur.fetchone()[0])
elif cmd == "duck":
    path, r = sys.argv[2], int(sys.argv[3])
    lib = ctypes.CDLL(os.environ["TDSPIPE_DUCKDB_LIB"])
    lib.duckdb_value_int64.restype = ctypes.c_int64
    db, con, res = ctypes.c_void_p(), ctypes.c_void_p(), (ctypes.c_byte * 64)()
    assert lib.duckdb_open(path.encode(), ctypes.byref(db)) == 0
    assert lib.duckdb_connect(db, ctypes.byref(con)) == 0
    out = []
    for q in ("SELECT COUNT(*) FROM main.chg WHERE NOT _cdc_deleted", "SELECT COUNT(*) FROM main.chg WHERE _cdc_deleted",
              "SELECT COUNT(*) FROM main.chg WHERE v = %d AND NOT _cdc_deleted" % (1000 + r)):
        assert lib.duckdb_query(con, q.encode(), ctypes.byref(res)) == 0, q
        out.append(lib.duckdb_value_int64(ctypes.byref(res), ctypes.c_uint64(0), ctypes.c_uint64(0)))
        lib.duckdb_destroy_result(ctypes.byref(res))
    lib.duckdb_disconnect(ctypes.byref(con))
    lib.duckdb_close(ctypes.byref(db))
    print(*out)
EOF

# dest_counts KIND DEST ROUND: "live tombstones v_count" in the destination.
dest_counts() {
  if [ "$2" = duckdb ]; then
    "$py" "$work/helper.py" duck "$work/$1.duckdb" "$3"
  else
    psql "$pg_uri" -Atq -F' ' -c "SELECT count(*) FILTER (WHERE NOT _cdc_deleted), count(*) FILTER (WHERE _cdc_deleted),
      count(*) FILTER (WHERE v = $((1000 + $3)) AND NOT _cdc_deleted) FROM $1.chg"
  fi
}

# one KIND DEST ROUND LABEL: a timed run into DEST, then the check.
one() {
  local kind=$1 dest=$2 r=$3 log="$work/log.$1.$2.$3" m="$work/m"
  local schema=main
  [ "$dest" = postgres ] && schema=$kind
  [ "$dest" = postgres ] && psql "$pg_uri" -q -c "CREATE SCHEMA IF NOT EXISTS $kind" >/dev/null
  if ! "$build/bench_measure" "$m" -- "$build/tdspipe" ingest --source-uri "$(src_uri "$kind")" \
      --source-table dbo.chg --dest-uri "$(dest_uri "$kind" "$dest")" --dest-table "$schema.chg" \
      --progress log >"$log" 2>&1; then
    echo "FAILED: $kind → $dest run $r:" >&2; tail -5 "$log" >&2; exit 1
  fi
  local want got n=100000
  [ "$r" = 0 ] && n=$rows
  if ! grep -q "chg: loaded $n rows" "$log"; then
    echo "WRONG RESULT: $kind → $dest run $r did not load $n rows:" >&2; tail -3 "$log" >&2; exit 1
  fi
  want=$("$py" "$work/helper.py" src "$port" "$r" "$rows")
  [ "$r" = 0 ] && want="$rows 0 0"
  got=$(dest_counts "$kind" "$dest" "$r")
  if [ "$want" != "$got" ]; then
    echo "WRONG RESULT: $kind → $dest run $r: destination has '$got' (live tombstones v=round), source '$want'" >&2
    exit 1
  fi
  echo "$kind $dest $r: $got" >>"$work/checks"
  read -r wall user sys rss _ <"$m"
  echo "$kind $dest $r $wall $user $sys $rss" >>"$work/samples"
}

combos="ct:duckdb ct:postgres cdc:duckdb cdc:postgres"
for c in $combos; do one "${c%%:*}" "${c##*:}" 0; done
for r in $(seq "$runs"); do
  "$py" "$work/helper.py" window "$port" "$r" "$rows" >/dev/null
  for c in $combos; do one "${c%%:*}" "${c##*:}" "$r"; done
done

echo "### Changes applied per second (tdspipe incremental runs, $rows-row table)"
echo
echo "Commit $(git -C "$root" rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs;" \
  "load average at the end:$(uptime | sed 's/.*load average://')."
echo
echo "Every run checked: destination = source (live rows, tombstones, rows with the window's value), e.g." \
  "$(tail -1 "$work/checks")."
echo
echo "| source | destination | run | rows or changes | wall s median (min–max) | per s | CPU s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|"
awk -v rows="$rows" '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { k = $1 " " $2 " " ($3 == 0 ? "snapshot" : "changes"); if (!(k in n)) order[++nk] = k
    i = ++n[k]; w[k, i] = $4; c[k, i] = $5 + $6; if ($7 > rss[k]) rss[k] = $7 }
  END {
    for (o = 1; o <= nk; o++) {
      k = order[o]; split(k, p, " "); m = n[k]
      for (i = 1; i <= m; i++) { ws[i] = w[k, i]; cs[i] = c[k, i] }
      mw = median(ws, m); mc = median(cs, m)
      cnt = p[3] == "snapshot" ? rows : 100000
      printf "| %s | %s | %s ×%d | %d | %.3f (%.3f–%.3f) | %.0f | %.3f | %.0f |\n", p[1], p[2], p[3], m, cnt, mw,
        ws[1], ws[m], cnt / mw, mc, rss[k] / 1024
    }
  }' "$work/samples"
