#!/usr/bin/env bash
# examples.sh — builds examples/ against an INSTALLED libtdspipe (through
# pkg-config; nothing from the build tree) and runs each against the
# installed tdstestd, checking what it prints against independent reads
# of the same data (issue 12, item 7):
#   engine_socket    rows of dbo.customers == the scenario file's own rows;
#                    rows of sales.orders == `tdspipe ingest` into CSV
#   load_csv         its CSV == tdspipe ingest's CSV (but the load time)
#   two_connections  both queries sent while both connections are open;
#                    each one's rows == the references above
#
#   scripts/examples.sh [BUILD_DIR]
#
# Without BUILD_DIR a Release tree is configured in build-release (tests
# off) and built; with it, that tree is built and used. It is installed
# into a temporary prefix (KEEP=1 keeps it and the outputs).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
build=${1:-build-release}
work=$(mktemp -d /tmp/tdspipe-examples.XXXXXX)
P=$work/prefix
srv_pid=""
cleanup() {
  [ -n "$srv_pid" ] && { kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null || true; }
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ ! -f "$build/CMakeCache.txt" ]; then
  env -u ASAN_OPTIONS -u UBSAN_OPTIONS -u LSAN_OPTIONS cmake -S . -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DTDSPIPE_TESTS=OFF >"$work/build.log" 2>&1 ||
    { tail -20 "$work/build.log"; echo "examples: FAIL configure $build"; exit 1; }
fi
cmake --build "$build" -j"$(nproc)" >>"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log"; echo "examples: FAIL build $build"; exit 1; }
cmake --install "$build" --prefix "$P" >/dev/null
echo "examples: installed $build into $P"

# ---------------------------------------------------------------- build
mkdir -p "$work/ex"
san=""
ldd "$P/lib/libtdspipe.so" | grep libasan >/dev/null && san="-fsanitize=address,undefined"
PKG_CONFIG_PATH=$P/lib/pkgconfig make -s -C "$work/ex" -f "$src/examples/Makefile" \
  SRCDIR="$src/examples" CFLAGS="-O2 -g $san" LDFLAGS="-Wl,-rpath,$P/lib"
for e in engine_socket load_csv two_connections; do
  ldd "$work/ex/$e" | grep "$P/lib/libtdspipe.so.0" >/dev/null ||
    { echo "examples: FAIL $e does not use $P/lib/libtdspipe.so.0"; ldd "$work/ex/$e"; exit 1; }
done
echo "examples: built engine_socket, load_csv, two_connections with pkg-config against the prefix"

# --------------------------------------------------------------- server
scenario=$src/tests/server/scenarios/demo.json
"$P/bin/tdstestd" --scenario "$scenario" --port 0 >"$work/srv.log" 2>"$work/srv.err" &
srv_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$work/srv.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "examples: FAIL tdstestd did not start"; cat "$work/srv.err"; exit 1; }
uri="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"

# the reference read: the installed CLI into CSV
"$P/bin/tdspipe" ingest --source-uri "$uri" --source-table sales.orders \
  --dest-uri "csv://$work/ref_orders.csv" --progress log 2>"$work/ref.err" ||
  { echo "examples: FAIL tdspipe ingest (reference)"; cat "$work/ref.err"; exit 1; }

# ------------------------------------------------------------------ run
ex=$work/ex
# run OUT PROGRAM ARGS…: stdout into $work/OUT; a failure ends the script
run() {
  local out=$1 rc=0; shift
  "$@" >"$work/$out" 2>"$work/$out.err" || rc=$?
  [ "$rc" = 0 ] || { echo "examples: FAIL ${1##*/} exited $rc"; cat "$work/$out.err"; exit 1; }
}
run a_customers.out "$ex/engine_socket" 127.0.0.1 "$port" sa 'Passw0rd!' demo \
  "SELECT id, name, email FROM dbo.customers"
run a_orders.out "$ex/engine_socket" 127.0.0.1 "$port" sa 'Passw0rd!' demo \
  "SELECT order_id, customer_id, amount, note FROM sales.orders"
run b.out "$ex/load_csv" "$uri" sales.orders "$work/b_orders.csv"
run c.out "$ex/two_connections" "$uri" "SELECT id, name, email FROM dbo.customers" \
  "SELECT order_id, customer_id, amount, note FROM sales.orders"
head -4 "$work/a_customers.out" | sed 's/^/  engine_socket: /'
sed 's/^/  load_csv: /' "$work/b.out"
grep -E '^(both|1: done|2: done)' "$work/c.out" | sed 's/^/  two_connections: /'

# ---------------------------------------------------------------- check
python3 - "$scenario" "$work" <<'PY'
import csv, json, sys
scenario, work = sys.argv[1], sys.argv[2]
fails = 0
def check(name, got, want):
    global fails
    if got == want:
        print("ok   " + name)
    else:
        fails += 1
        print("FAIL %s\n     got  %r\n     want %r" % (name, got[:5] if isinstance(got, list) else got,
                                                    want[:5] if isinstance(want, list) else want))

def text(v):  # how the examples print a value
    return "NULL" if v is None or v == "" else str(v)

db = json.load(open(scenario))["databases"][0]
tables = {t["schema"] + "." + t["name"]: t for t in db["tables"]}
customers = ["|".join(text(v) for v in row[:3]) for row in tables["dbo.customers"]["data"]]
n_orders = tables["sales.orders"]["rows"]

with open(work + "/ref_orders.csv", newline="") as f:
    ref = list(csv.reader(f))
ref_head, ref_rows = ref[0], ref[1:]
cols = [ref_head.index(c) for c in ("order_id", "customer_id", "amount", "note")]
orders = ["|".join(text(r[i]) for i in cols) for r in ref_rows]
check("reference: the CLI read every row of the scenario", len(orders), n_orders)

a = open(work + "/a_customers.out", encoding="utf-8").read().splitlines()
check("engine_socket: customers header", a[0], "id|name|email")
check("engine_socket: customers == the scenario's rows", a[1:-1], customers)
check("engine_socket: customers row count", a[-1], "(%d rows)" % len(customers))
a = open(work + "/a_orders.out", encoding="utf-8").read().splitlines()
check("engine_socket: orders == tdspipe ingest's CSV", a[1:-1], orders)
check("engine_socket: orders row count", a[-1], "(%d rows)" % n_orders)

with open(work + "/b_orders.csv", newline="") as f:
    b = list(csv.reader(f))
check("load_csv: header == tdspipe ingest's", b[0], ref_head)
keep = [i for i, c in enumerate(ref_head) if c != "_ingestr_loaded_at"]
check("load_csv: rows == tdspipe ingest's (but the load time)",
      [[r[i] for i in keep] for r in b[1:]], [[r[i] for i in keep] for r in ref_rows])
check("load_csv: says how many rows", open(work + "/b.out").read().split()[:2], ["loaded", str(n_orders)])

c = open(work + "/c.out", encoding="utf-8").read().splitlines()
check("two_connections: both queries sent once both were open", c[0],
      "both connections open; sending both queries")
for tag, want in (("1", customers), ("2", orders)):
    rows = [l[len(tag) + 2:] for l in c if l.startswith(tag + ": ") and not l.startswith(tag + ": done")]
    check("two_connections: connection %s rows" % tag, rows, want)
    check("two_connections: connection %s completed" % tag,
          [l for l in c if l.startswith(tag + ": done")], ["%s: done, %d rows" % (tag, len(want))])
print("examples: %s" % ("all checks passed" if not fails else "%d checks FAILED" % fails))
sys.exit(1 if fails else 0)
PY
