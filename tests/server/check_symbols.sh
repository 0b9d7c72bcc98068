#!/bin/sh
# check_symbols.sh — tdstestd's own symbols never share a name with the
# library's, and none of them borrows a library prefix (tds_ net_ sink_
# cli_ pipe_ tdspipe_): a test server linked next to libtdspipe, or read
# in a debugger beside it, must not be mistaken for it.
#
#   check_symbols.sh BUILD_DIR
#
# tdstestd's own code is its object files plus libtdstestd_query.a; the
# library is every archive under BUILD_DIR outside tests/ and _deps/.
# Prints the clashes and exits 1 when there are any.
set -eu
b=${1:?usage: check_symbols.sh BUILD_DIR}
own=$(mktemp) lib=$(mktemp)
trap 'rm -f "$own" "$lib"' EXIT
# Defined symbols, global or file-local (T/t, D/d, B/b, R/r), names only;
# not the compiler's own (x.constprop.0, _sub_I_ sanitizer constructors).
defined() { nm --defined-only "$@" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[TtDdBbRr]$/ { print $3 }'; }
defined $(find "$b/tests/server/CMakeFiles/tdstestd.dir" -name '*.o') \
        "$b/tests/server/libtdstestd_query.a" | grep -v -e '\.' -e '^_' | sort -u >"$own"
defined $(find "$b" -name '*.a' -not -path '*/tests/*' -not -path '*/_deps/*') |
        grep -v -e '\.' -e '^_' | sort -u >"$lib"
[ -s "$own" ] || { echo "check_symbols: no tdstestd objects under $b" >&2; exit 2; }
[ -s "$lib" ] || { echo "check_symbols: no library archives under $b" >&2; exit 2; }
status=0
shared=$(comm -12 "$own" "$lib")
if [ -n "$shared" ]; then
    echo "tdstestd defines names the library defines too:"; echo "$shared"; status=1
fi
borrowed=$(grep -E '^(tds|net|sink|cli|pipe|tdspipe)_' "$own" || true)
if [ -n "$borrowed" ]; then
    echo "tdstestd defines names with a library prefix:"; echo "$borrowed"; status=1
fi
[ $status -eq 0 ] && echo "check_symbols: $(wc -l <"$own") tdstestd symbols, $(wc -l <"$lib") library symbols, none shared"
exit $status
