#!/usr/bin/env bash
# e2e_binary.sh — one file to ship (issue 5, item 7): the default tdspipe
# needs only the C library (ldd: libc, libm, ld-linux, vdso; OpenSSL,
# libuv, zlib, SQLite linked in), and -DTDSPIPE_FULLY_STATIC=ON gives a
# statically linked binary (file: "statically linked") that has no
# DuckDB/PostgreSQL destination and says so. Both answer --version and load
# a real table from build/tdstestd. Prints both sizes (README.md quotes them).
#
#   tests/cli/e2e_binary.sh BUILD_DIR SRC_DIR
#
# A sanitizer build's tdspipe links libasan, so then a Release tdspipe is
# configured into BUILD_DIR/ship-default; the static one always goes to
# BUILD_DIR/ship-static. Only the tdspipe target is built (tests off).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_binary "$@"

# ship_build DIR [CMAKE ARGS…]: a Release tdspipe in DIR (tests off)
ship_build() {
  local dir=$1; shift
  # the sanitizer environment of ctest is not wanted in these builds
  env -u ASAN_OPTIONS -u LSAN_OPTIONS -u UBSAN_OPTIONS cmake -S "$src" -B "$dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DTDSPIPE_TESTS=OFF "$@" >"$work/cmake.log" 2>&1 &&
  env -u ASAN_OPTIONS cmake --build "$dir" -j2 --target tdspipe >>"$work/cmake.log" 2>&1 ||
    { tail -20 "$work/cmake.log"; return 1; }
}

default=$build/tdspipe
if ! [ -x "$default" ] || ldd "$default" 2>/dev/null | grep -q -E 'libasan|libubsan'; then
  echo "building a Release tdspipe in $build/ship-default (this build is sanitized)"
  ship_build "$build/ship-default" -DTDSPIPE_SANITIZE=OFF || { echo "FAIL default build"; exit 1; }
  default=$build/ship-default/tdspipe
fi
echo "building the fully static tdspipe in $build/ship-static"
ship_build "$build/ship-static" -DTDSPIPE_FULLY_STATIC=ON -DTDSPIPE_SANITIZE=OFF || { echo "FAIL static build"; exit 1; }
static=$build/ship-static/tdspipe

# ------------------------------------------------------------ default
libs=$(ldd "$default" | awk '{print $1}' | sort | tr '\n' ' ')
extra=$(ldd "$default" | awk '{print $1}' |
  grep -v -E '^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0)$' || true)
same "default: only the C library is shared ($libs)" "$extra" ""
file "$default" | grep -q "dynamically linked" && ok "default: dynamically linked (libc)" || bad "default: file says" "$(file "$default")"
# what the archives must have brought in (their shared libraries are not needed)
for sym in SSL_CTX_new uv_loop_init deflate sqlite3_open_v2; do
  nm "$default" 2>/dev/null | grep -q " T $sym$" && ok "default: $sym linked in" || bad "default: $sym not linked in"
done
same "default --version" "$("$default" --version)" "tdspipe 0.2.0"

# ------------------------------------------------------------- static
file "$static" | grep -q "statically linked" && ok "static: statically linked" || bad "static: file says" "$(file "$static")"
ldd "$static" >/dev/null 2>&1 && bad "static: ldd finds shared libraries" "$(ldd "$static")" || ok "static: ldd finds no shared library"
same "static --version" "$("$static" --version)" "tdspipe 0.2.0"

# both load a real table (the static one resolves 127.0.0.1 without NSS)
start_server "$src/tests/server/scenarios/demo.json"
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"
cd "$work"
for b in default static; do
  bin=$default
  [ $b = static ] && bin=$static
  "$bin" ingest --source-uri "$U" --source-table sales.orders --dest-uri "sqlite:///$b.db" --progress log 2>"$b.err"
  same "$b: loads into SQLite" "$(sqlite3 "$b.db" 'select count(*), sum(order_id) from orders' 2>&1)" "1000|500500"
  "$bin" ingest --source-uri "$U" --source-table sales.orders --dest-uri "csv://$b.csv.gz" --progress log 2>"$b.err"
  same "$b: loads into csv.gz" "$(zcat "$b.csv.gz" | wc -l)" 1001
done
for d in duckdb:///x.duckdb postgresql://u@127.0.0.1:1/db; do
  "$static" ingest --source-uri "$U" --source-table sales.orders --dest-uri "$d" --progress log 2>"$work/err"
  rc=$?
  same "static: $d refused (exit 1)" "$rc" 1
  grep -q "fully static" "$work/err" && [ "$(grep -c '' "$work/err")" = 1 ] && ok "static: $d says why" ||
    bad "static: $d message" "$(cat "$work/err")"
done
[ ! -e x.duckdb ] && ok "static: no duckdb file made" || bad "static: a duckdb file was made"

# ------------------------------------------------------------- sizes
for b in "$default" "$static"; do
  strip -o "$work/stripped" "$b"
  echo "size: $b $(stat -c %s "$b") bytes, stripped $(stat -c %s "$work/stripped") bytes"
done

finish
