#!/usr/bin/env bash
# A throw-away PostgreSQL for the sink tests, from Debian's postgresql
# package: a fresh data directory, trust authentication, listening only on
# 127.0.0.1 at a free port (and a socket inside its own directory).
#
#   pg_server.sh start DIR      initdb + start in DIR; prints the port
#   pg_server.sh stop DIR       stops it (DIR stays; remove it yourself)
#   pg_server.sh run CMD [ARG…] start in a temp dir, run CMD with
#                               TDSPIPE_PG_URI=postgresql://postgres@127.0.0.1:PORT/postgres,
#                               stop, remove the dir; exits with CMD's code
#
# With TDSPIPE_PG_URI already set, `run` just runs CMD against it.
# PostgreSQL refuses to run as root, so as root the server runs as the
# postgres user (runuser); as anyone else it runs as that user.
set -euo pipefail

bindir=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && bindir=$d
done
if [ -z "$bindir" ]; then
  bindir=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
fi
[ -x "$bindir/initdb" ] || { echo "pg_server.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    echo $((20000 + RANDOM % 40000)) # a busy port makes pg_ctl fail: start() retries
  fi
}

start() {
  local dir=$1
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -N -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  local port tries=0
  while :; do
    port=$(free_port)
    if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
         -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
         start >/dev/null 2>&1; then
      break
    fi
    tries=$((tries + 1))
    if [ $tries -ge 5 ]; then cat "$dir/server.log" >&2; exit 1; fi
  done
  echo "$port" >"$dir/port"
  echo "$port"
}

stop() {
  local dir=$1
  [ -d "$dir/data" ] && as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  run)
    shift
    if [ -n "${TDSPIPE_PG_URI:-}" ]; then exec "$@"; fi
    dir=$(mktemp -d /tmp/tdspipe-pg.XXXXXX)
    trap 'stop "$dir"; rm -rf "$dir"' EXIT
    port=$(start "$dir")
    export TDSPIPE_PG_URI="postgresql://postgres@127.0.0.1:$port/postgres"
    set +e
    "$@"
    rc=$?
    set -e
    exit $rc
    ;;
  *) echo "usage: pg_server.sh start DIR | stop DIR | run CMD [ARG...]" >&2; exit 2 ;;
esac
