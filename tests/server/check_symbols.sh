#!/bin/sh
# check_symbols.sh — tdstestd's own symbols never share a linkable name
# with the library's, and none of them borrows a library prefix (tds_ net_
# sink_ cli_ pipe_ tdspipe_): a test server linked next to libtdspipe, or
# read in a debugger beside it, must not be mistaken for it.
#
#   check_symbols.sh BUILD_DIR
#
# tdstestd's own code is its object files plus libtdstestd_query.a; the
# library is every archive under BUILD_DIR outside tests/ and _deps/.
# Fails (exit 1) when a global name of one side is defined by the other,
# or a tdstestd name has a library prefix. File-local (static) helpers
# with the same name on both sides cannot clash: they are listed as a
# note, not a failure, since the library's statics change under other
# hands.
set -eu
b=${1:?usage: check_symbols.sh BUILD_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
own_objs=$(find "$b/tests/server/CMakeFiles/tdstestd.dir" -name '*.o')
own_objs="$own_objs $b/tests/server/libtdstestd_query.a"
lib_objs=$(find "$b" -name '*.a' -not -path '*/tests/*' -not -path '*/_deps/*')
[ -n "$lib_objs" ] || { echo "check_symbols: no library archives under $b" >&2; exit 2; }
# names CLASSES FILES…: defined symbols whose nm class is in CLASSES (T D B
# R for globals, lower case for file-local), without the compiler's own
# (x.constprop.0, _sub_I_… sanitizer constructors).
names() {
    classes=$1
    shift
    nm --defined-only "$@" 2>/dev/null |
        awk -v c="$classes" 'NF == 3 && index(c, $2) { print $3 }' |
        grep -v -e '\.' -e '^_' | sort -u
}
# shellcheck disable=SC2086
{
    names TDBRtdbr $own_objs >"$tmp/own"
    names TDBR $own_objs >"$tmp/own_global"
    names TDBRtdbr $lib_objs >"$tmp/lib"
    names TDBR $lib_objs >"$tmp/lib_global"
}
[ -s "$tmp/own" ] || { echo "check_symbols: no tdstestd objects under $b" >&2; exit 2; }
status=0
shared=$({ comm -12 "$tmp/own_global" "$tmp/lib"; comm -12 "$tmp/own" "$tmp/lib_global"; } | sort -u)
if [ -n "$shared" ]; then
    echo "tdstestd and the library both define:"; echo "$shared"; status=1
fi
borrowed=$(grep -E '^(tds|net|sink|cli|pipe|tdspipe)_' "$tmp/own" || true)
if [ -n "$borrowed" ]; then
    echo "tdstestd defines names with a library prefix:"; echo "$borrowed"; status=1
fi
echo "$shared" >"$tmp/shared"
local_both=$(comm -12 "$tmp/own" "$tmp/lib" | grep -vxF -f "$tmp/shared" | tr '\n' ' ' || true)
[ -z "$local_both" ] || echo "note: file-local names on both sides (internal linkage, no clash): $local_both"
[ $status -ne 0 ] || echo "check_symbols: $(wc -l <"$tmp/own") tdstestd symbols ($(wc -l <"$tmp/own_global") global), $(wc -l <"$tmp/lib") library symbols ($(wc -l <"$tmp/lib_global") global): no name shared with a global, none with a library prefix"
exit $status
