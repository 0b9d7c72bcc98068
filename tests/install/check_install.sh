#!/usr/bin/env bash
# check_install.sh — `cmake --install` gives an embeddable libtdspipe
# (issue 12, item 5). Installs BUILD_DIR into a temporary prefix P and
# checks, using nothing from the build tree afterwards:
#   - P/include/tdspipe/ holds exactly the public headers (no *_int.h);
#     each compiles alone (C11 -pedantic, and as C++), and includes only
#     the other installed headers and system headers;
#   - libtdspipe.so (SONAME libtdspipe.so.0) exports exactly the functions
#     the installed headers declare inside `#pragma GCC visibility
#     push(default)` (tests/install/public_api.py), compared both ways, and
#     no function is declared outside that region; libtdspipe.a holds the
#     tds/, net/, sink/ and pipe/ objects;
#   - tdspipe.pc works: app.c built with `pkg-config --cflags --libs`
#     (shared) and `--static` (archive) runs; find_package(tdspipe) in a
#     CMake project builds and runs app.c against both imported targets;
#   - tdspipe_version() equals TDSPIPE_VERSION_STRING (app.c), and bin/
#     holds tdspipe (whose --version names the library's version) and
#     tdstestd.
#
#   tests/install/check_install.sh BUILD_DIR SRC_DIR      (KEEP=1 keeps P)
#
# A sanitizer build's library needs the sanitizer runtime first in the
# program: the programs are then compiled with the same -fsanitize flags.
set -u
build=$(cd "${1:?build dir}" && pwd)
src=$(cd "${2:?source dir}" && pwd)
here=$src/tests/install
work=$(mktemp -d /tmp/tdspipe-install.XXXXXX)
P=$work/prefix
trap '[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
cc=${CC:-cc}

fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok   $1"; }
bad() { fails=$((fails + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "     $2"; }
same() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got [$2] wanted [$3]"; fi; }

if ! cmake --install "$build" --prefix "$P" >"$work/install.log" 2>&1; then
  bad "cmake --install" "$(tail -5 "$work/install.log")"
  echo "install_check: $passes passed, $fails failed"; exit 1
fi
ok "cmake --install $build --prefix P"
inc=$P/include/tdspipe lib=$P/lib

# ------------------------------------------------------------ headers
same "public headers only" "$(cd "$inc" && ls | tr '\n' ' ')" \
  "net.h pipe.h sink.h tds.h tdspipe.h tdspipe_version.h "
[ -z "$(find "$P/include" -name '*_int.h')" ] && ok "no *_int.h installed" || bad "*_int.h installed"
for h in "$inc"/*.h; do
  # quoted includes name installed headers; <…> ones are system headers
  for q in $(sed -n 's/^#include "\(.*\)"/\1/p' "$h"); do
    [ -f "$inc/$q" ] || bad "$(basename "$h") includes \"$q\", which is not installed"
  done
  for a in $(sed -n 's/^#include <\(.*\)>/\1/p' "$h"); do
    [ -f "/usr/include/$a" ] || [ -f "/usr/include/x86_64-linux-gnu/$a" ] ||
      echo "$a" | grep -q -E '^(stdbool|stddef|stdint)\.h$' ||
      bad "$(basename "$h") includes <$a>, not a system header"
  done
  b=$(basename "$h")
  printf "#include <tdspipe/%s>\ntypedef int check_install_nonempty;\n" "$b" | $cc -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only \
    -I"$P/include" -x c - 2>"$work/hdr.err" && ok "$b compiles alone (C11, -pedantic)" ||
    bad "$b alone" "$(head -3 "$work/hdr.err")"
done
if command -v c++ >/dev/null; then
  echo '#include <tdspipe/tdspipe.h>' | c++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only \
    -I"$P/include" -x c++ - 2>"$work/hdr.err" && ok "tdspipe.h compiles as C++" ||
    bad "tdspipe.h as C++" "$(head -3 "$work/hdr.err")"
fi

# ---------------------------------------------------------- libraries
so=$lib/libtdspipe.so
[ -f "$lib/libtdspipe.a" ] && ok "lib/libtdspipe.a" || bad "lib/libtdspipe.a missing"
[ -L "$so" ] && [ -f "$so" ] && ok "lib/libtdspipe.so -> $(readlink "$so")" || bad "lib/libtdspipe.so missing"
same "SONAME" "$(readelf -d "$so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" libtdspipe.so.0
objs=$(ar t "$lib/libtdspipe.a" 2>/dev/null)
for o in session.c.o conn.c.o csv.c.o registry.c.o version.c.o; do
  echo "$objs" | grep -x "$o" >/dev/null && ok "libtdspipe.a holds $o" || bad "libtdspipe.a lacks $o"
done

# exported functions = declared functions, both ways
python3 "$here/public_api.py" "$cc" "$P/include" >"$work/api" || bad "public_api.py failed"
awk '$1 == "exported" {print $2}' "$work/api" | sort -u >"$work/declared"
awk '$1 == "hidden" {print $2}' "$work/api" | sort -u >"$work/hidden"
nm -D --defined-only "$so" | awk '{print $2, $3}' >"$work/dynsyms"
awk '$1 ~ /^[TtWi]$/ {print $2}' "$work/dynsyms" | sort -u >"$work/exported"
# data exported by the library (none is declared public)
awk '$1 ~ /^[DdBbRrVvGgSs]$/ && $2 !~ /^(_edata|_end|__bss_start|_init|_fini)$/ {print $2}' "$work/dynsyms" |
  sort -u >"$work/exported_data"
grep -v -x -E '_init|_fini' "$work/exported" >"$work/exported_fn" || true
n_exp=$(grep -c '' "$work/exported_fn") n_decl=$(grep -c '' "$work/declared")
echo "exported functions (nm -D --defined-only): $n_exp; declared in the public headers: $n_decl"
missing=$(comm -23 "$work/declared" "$work/exported_fn" | tr '\n' ' ')
extra=$(comm -13 "$work/declared" "$work/exported_fn" | tr '\n' ' ')
same "every declared function is exported" "$missing" ""
same "only declared functions are exported" "$extra" ""
same "no exported data" "$(tr '\n' ' ' <"$work/exported_data")" ""
same "no function declared outside visibility push(default)" "$(tr '\n' ' ' <"$work/hidden")" ""

# ----------------------------------------------------------- programs
san=""
ldd "$so" | grep libasan >/dev/null && san="-fsanitize=address,undefined"
export PKG_CONFIG_PATH=$lib/pkgconfig
same "pkg-config --modversion" "$(pkg-config --modversion tdspipe 2>&1)" \
  "$(sed -n 's/#define TDSPIPE_VERSION_STRING "\(.*\)"/\1/p' "$inc/tdspipe_version.h")"
cflags=$(pkg-config --cflags tdspipe) libs=$(pkg-config --libs tdspipe) slibs=$(pkg-config --static --libs tdspipe)
echo "pkg-config: --cflags [$cflags] --libs [$libs] --static --libs [$slibs]"
[ "$(cd "$(echo "$cflags" | sed -n 's/.*-I\([^ ]*\).*/\1/p')" 2>/dev/null && pwd)" = "$P/include" ] &&
  ok "pkg-config --cflags names P/include" || bad "pkg-config --cflags" "$cflags"

# run_app NAME BINARY: runs it, checks its output and its CSV
run_app() {
  local name=$1 bin=$2
  rm -f "$work/out.csv"
  if "$bin" "$work/out.csv" >"$work/app.out" 2>"$work/app.err"; then
    same "$name: version" "$(head -1 "$work/app.out")" "version $(pkg-config --modversion tdspipe)"
    same "$name: tdspipe_load refuses a bad URI" "$(sed -n 2p "$work/app.out")" "load refused: usage"
    same "$name: CSV written through sink_*" "$(tr -d "\r" <"$work/out.csv" | tr "\n" " ")" "answer 42 "
  else
    bad "$name runs" "$(head -5 "$work/app.err")"
  fi
}
# shellcheck disable=SC2086
if $cc $san -std=c11 -Wall -Wextra -Werror $cflags "$here/app.c" -o "$work/app_pc" $libs \
     -Wl,-rpath,"$lib" 2>"$work/cc.err"; then
  ok "app.c builds with pkg-config (shared)"
  ldd "$work/app_pc" | grep "$lib/libtdspipe.so.0" >/dev/null && ok "app_pc uses P/lib/libtdspipe.so.0" ||
    bad "app_pc's libtdspipe" "$(ldd "$work/app_pc" | grep tdspipe)"
  run_app app_pc "$work/app_pc"
else
  bad "app.c with pkg-config (shared)" "$(head -5 "$work/cc.err")"
fi
# the archive: -l:libtdspipe.a instead of -ltdspipe, its dependencies from --static
# shellcheck disable=SC2086
if $cc $san -std=c11 -Wall -Wextra -Werror $cflags "$here/app.c" -o "$work/app_pc_static" \
     $(echo "$slibs" | sed 's/-ltdspipe\b/-l:libtdspipe.a/') 2>"$work/cc.err"; then
  ok "app.c builds with pkg-config --static (libtdspipe.a)"
  ldd "$work/app_pc_static" | grep libtdspipe >/dev/null && bad "app_pc_static needs libtdspipe.so" ||
    ok "app_pc_static does not need libtdspipe.so"
  run_app app_pc_static "$work/app_pc_static"
else
  bad "app.c with pkg-config --static" "$(head -5 "$work/cc.err")"
fi

# find_package(tdspipe)
gen=""
command -v ninja >/dev/null && gen="-G Ninja"
# shellcheck disable=SC2086
if env -u CMAKE_PREFIX_PATH cmake -S "$here/cmake_project" -B "$work/consumer" $gen \
     -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_FLAGS="$san" -DCMAKE_BUILD_RPATH="$lib" >"$work/consumer.log" 2>&1 &&
   cmake --build "$work/consumer" >>"$work/consumer.log" 2>&1; then
  ok "find_package(tdspipe) project builds ($(sed -n 's/^-- \(tdspipe .* from\) .*/\1 P/p' "$work/consumer.log"))"
  run_app "find_package shared" "$work/consumer/app_shared"
  ldd "$work/consumer/app_shared" | grep "$lib/libtdspipe.so.0" >/dev/null && ok "tdspipe::tdspipe is the shared library" ||
    bad "tdspipe::tdspipe" "$(ldd "$work/consumer/app_shared" | grep tdspipe)"
  run_app "find_package static" "$work/consumer/app_static"
  ldd "$work/consumer/app_static" | grep libtdspipe >/dev/null && bad "tdspipe::tdspipe_static needs the .so" ||
    ok "tdspipe::tdspipe_static is the archive"
else
  bad "find_package(tdspipe) project" "$(grep -E 'Error|error' "$work/consumer.log" | head -5)"
fi

# ---------------------------------------------------------------- bin/
for b in tdspipe tdstestd; do
  [ -x "$P/bin/$b" ] && ok "bin/$b installed" || bad "bin/$b missing"
done
[ -x "$P/bin/tdspipe" ] && same "bin/tdspipe --version" "$("$P/bin/tdspipe" --version 2>&1)" \
  "tdspipe $(pkg-config --modversion tdspipe)"

echo "install_check: $passes passed, $fails failed"
[ "$fails" = 0 ]
