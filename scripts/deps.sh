#!/usr/bin/env bash
# Installs every system package tdspipe's build and tests need (Debian 12).
# Idempotent: packages already present are left alone.
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-dev
  libssl-dev zlib1g-dev libuv1-dev libcriterion-dev libsqlite3-dev
  libcjson-dev libcjson1 libcurl4 libcurl4-openssl-dev file bc gnuplot-nox
  freetds-bin python3-tds python3-openssl python3-cryptography
  postgresql libpq5 sqlite3 openssl
  gnuplot-nox locales
)
# Node.js brings npm (tedious for the peer checks, the DuckDB package). A
# machine may already have a Node.js whose npm conflicts with Debian's npm
# package: only install them when the commands are missing.
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Locale tests: tests/tds/test_locale.c (a decimal comma), tests/net/test_browser.c
# (Turkish: 'I' does not fold to 'i').
locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$' || localedef -i de_DE -f UTF-8 de_DE.UTF-8
locale -a 2>/dev/null | grep -qi '^tr_TR\.utf-\?8$' || localedef -i tr_TR -f UTF-8 tr_TR.UTF-8
# DuckDB's C API comes from its npm package (no Debian package exists).
bash "$(dirname "$0")/get_duckdb.sh" >/dev/null
