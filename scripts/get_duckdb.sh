#!/usr/bin/env bash
# Gets libduckdb.so from the npm package @duckdb/node-bindings-linux-x64 —
# the only place the build may fetch DuckDB from — into a cache folder and
# prints the library's path (use it as TDSPIPE_DUCKDB_LIB; the DuckDB sink
# also looks in ~/.cache/tdspipe/duckdb by itself).
#
#   scripts/get_duckdb.sh [DEST_DIR]
#
# DEST_DIR defaults to $TDSPIPE_DUCKDB_DIR, else ~/.cache/tdspipe/duckdb.
# DUCKDB_NPM_VERSION picks the package version (default: the one the tests
# were written against; "latest" for the newest). Idempotent: nothing is
# fetched when DEST_DIR already holds that version.
set -euo pipefail
version=${DUCKDB_NPM_VERSION:-1.5.6-r.1}
dest=${1:-${TDSPIPE_DUCKDB_DIR:-$HOME/.cache/tdspipe/duckdb}}
mkdir -p "$dest"
if [ -s "$dest/libduckdb.so" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
  echo "$dest/libduckdb.so"
  exit 0
fi
command -v npm >/dev/null || { echo "get_duckdb.sh: npm is missing (apt-get install npm)" >&2; exit 1; }
pkg="@duckdb/node-bindings-linux-x64@$version"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$pkg" >/dev/null 2>"$work/npm.log") || {
  cat "$work/npm.log" >&2; echo "get_duckdb.sh: npm pack $pkg failed" >&2; exit 1; }
tar -xzf "$work"/*.tgz -C "$work"
lib=$(find "$work/package" -name 'libduckdb.so' | head -1)
[ -n "$lib" ] || { echo "get_duckdb.sh: no libduckdb.so inside $pkg" >&2; exit 1; }
# Copy then rename so a concurrent reader never sees half a library.
cp "$lib" "$dest/libduckdb.so.tmp.$$"
mv "$dest/libduckdb.so.tmp.$$" "$dest/libduckdb.so"
echo "$version" >"$dest/VERSION"
echo "$dest/libduckdb.so"
