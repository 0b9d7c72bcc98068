#!/bin/sh
# run.sh — cross-validation of tdstestd with third-party TDS clients.
#
# Starts build/tdstestd on 127.0.0.1 (free ports, test certificates made
# by tests/server/certs.sh), runs FreeTDS (tsql, freebcp), pytds and
# tedious against it, compares every value each one read with the scenario
# (check_values.py), runs tedious against the faults and ATTENTION
# (faults_check.js), tsql and pytds against the expired and wrong-host
# certificates, then stops each server with SIGTERM and requires a clean
# exit. Exits non-zero if any check failed. Every client call is bounded
# by a timeout; the whole run takes well under a minute once tedious is
# installed (npm, cached under the build directory).
#
# env: BUILD_DIR (default ./build), PEER_SCENARIO (default
# tests/peers/scenario.json), TDS_NODE_DIR (where tedious is installed;
# default $BUILD_DIR/peers-node), PEER_TOKEN (a FEDAUTH token the scenario
# accepts; default "any-token", which scenario.json's "*" token login takes;
# empty skips the FEDAUTH check), PEER_KEEP=1 keeps the work directory.
set -u
PEER_TOKEN=${PEER_TOKEN-any-token}

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
bin=$build/tdstestd
scenario=${PEER_SCENARIO:-$root/tests/peers/scenario.json}
peers=$root/tests/peers
py=/usr/bin/python3
work=$(mktemp -d /tmp/tdspeers.XXXXXX)
user=${PEER_USER:-sa}
pass=${PEER_PASSWORD:-Passw0rd!}
db=${PEER_DB:-testdb}
table=${PEER_TABLE:-all_types}
query="SELECT * FROM $table"
export PEER_USER=$user PEER_PASSWORD=$pass PEER_DB=$db PEER_TABLE=$table

passed=0
failed=0
ok() { echo "peers: ok   $*"; passed=$((passed + 1)); }
bad() { echo "peers: FAIL $*"; failed=$((failed + 1)); }

pids=""
cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    [ "${PEER_KEEP:-0}" = 1 ] && echo "peers: work dir kept: $work" || rm -rf "$work"
}
trap cleanup EXIT INT TERM

[ -x "$bin" ] || { echo "peers: $bin not built"; exit 1; }
sh "$root/tests/server/certs.sh" "$work/certs" > /dev/null || { echo "peers: certs failed"; exit 1; }
certs=$work/certs

# start NAME ARGS...: starts tdstestd, sets $port (and $sport if strict).
start() {
    name=$1
    shift
    "$bin" --scenario "$scenario" --port 0 "$@" > "$work/$name.ports" 2> "$work/$name.log" &
    spid=$!
    pids="$pids $spid"
    i=0
    while [ $i -lt 100 ]; do
        port=$(sed -n 's/^port //p' "$work/$name.ports" 2>/dev/null)
        [ -n "$port" ] && break
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    sport=$(sed -n 's/^strict-port //p' "$work/$name.ports")
    if [ -z "$port" ]; then
        echo "peers: tdstestd ($name) did not start:"
        cat "$work/$name.log"
        exit 1
    fi
    echo "peers: tdstestd ($name) on port $port${sport:+, strict $sport}"
}

# stop: SIGTERM, expect exit 0 within 10 s (no leaks under ASan either).
stop() {
    name=$1
    kill -TERM "$spid" 2>/dev/null
    i=0
    while kill -0 "$spid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$spid" 2>/dev/null; then
        bad "tdstestd ($name) did not stop on SIGTERM"
        kill -KILL "$spid"
        return
    fi
    wait "$spid"
    st=$?
    if [ $st -eq 0 ]; then ok "tdstestd ($name) stopped cleanly"
    else bad "tdstestd ($name) exit status $st: $(tail -5 "$work/$name.log" | tr '\n' ' ')"; fi
}

check() { # label json
    if out=$($py "$peers/check_values.py" "$scenario" "$table" "$2" 2>&1); then
        ok "$1 values: $(echo "$out" | tail -1)"
    else
        bad "$1 values: $(echo "$out" | tail -5 | tr '\n' ' ')"
    fi
}

# ------------------------------------------------ main server (TLS on)
start main --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" \
    --tls-mode on --strict-port 0 --verbose

# pytds: plain, full TLS, login-only TLS, wrong password
for mode in plain tls login-only; do
    if timeout 60 $py "$peers/pytds_check.py" --host localhost --port "$port" --user "$user" \
        --password "$pass" --database "$db" --mode "$mode" --cafile "$certs/ca.pem" \
        --query "$query" --out "$work/pytds-$mode.json" > "$work/pytds-$mode.txt" 2>&1; then
        ok "$(tail -1 "$work/pytds-$mode.txt")"
        check "pytds[$mode]" "$work/pytds-$mode.json"
    else
        bad "pytds[$mode]: $(tail -3 "$work/pytds-$mode.txt" | tr '\n' ' ')"
    fi
done
if timeout 60 $py "$peers/pytds_check.py" --port "$port" --user "$user" --password "wrong$pass" \
    --database "$db" --expect-fail > "$work/pytds-wrong.txt" 2>&1 &&
    grep -q "Login failed for user" "$work/pytds-wrong.txt"; then
    ok "pytds wrong password refused (Login failed for user)"
else
    bad "pytds wrong password: $(tail -2 "$work/pytds-wrong.txt" | tr '\n' ' ')"
fi

# tedious (installed from npm into a local node_modules)
node_dir=${TDS_NODE_DIR:-$build/peers-node}
if [ ! -d "$node_dir/node_modules/tedious" ]; then
    mkdir -p "$node_dir"
    (cd "$node_dir" && npm install --cache "$node_dir/npm-cache" --no-audit --no-fund \
        --loglevel=error tedious@19 > npm.log 2>&1) ||
        echo "peers: npm install tedious failed: $(tail -3 "$node_dir/npm.log")"
fi
if [ -d "$node_dir/node_modules/tedious" ]; then
    for enc in false true strict; do
        p=$port
        [ "$enc" = strict ] && p=$sport
        if NODE_PATH="$node_dir/node_modules" timeout 60 node "$peers/tedious_check.js" \
            --port "$p" --user "$user" --password "$pass" --database "$db" \
            --encrypt "$enc" --ca "$certs/ca.pem" --query "$query" \
            --out "$work/tedious-$enc.json" > "$work/tedious-$enc.txt" 2>&1; then
            ok "$(tail -1 "$work/tedious-$enc.txt")"
            check "tedious[encrypt=$enc]" "$work/tedious-$enc.json"
        else
            bad "tedious[encrypt=$enc]: $(tail -3 "$work/tedious-$enc.txt" | tr '\n' ' ')"
        fi
    done
    # faults and cancellation against a real client (faults_check.js)
    if NODE_PATH="$node_dir/node_modules" timeout 120 node "$peers/faults_check.js" \
        --port "$port" --user "$user" --password "$pass" --database "$db" \
        > "$work/faults.txt" 2>&1; then
        ok "tedious faults/cancel: $(tail -1 "$work/faults.txt")"
    else
        bad "tedious faults/cancel: $(grep -E 'FAIL|Error' "$work/faults.txt" | head -3 | tr '\n' ' ')"
    fi
    sed 's/^/    /' "$work/faults.txt"
else
    bad "tedious: not installed"
fi
# FreeTDS (last: freebcp in is the heaviest path)
if PEER_OUT="$work/tsql.txt" sh "$peers/freetds.sh" "$port" "$certs/ca.pem" "$work/freetds" > "$work/freetds.txt" 2>&1; then
    ok "freetds: $(tail -1 "$work/freetds.txt")"
else
    bad "freetds: $(grep -c 'FAIL' "$work/freetds.txt") failed"
    # the server's side of it (e.g. a BULK message the engine refused)
    grep -E 'protocol error|bad packet|rejected' "$work/main.log" | head -3 | sed 's/^/    server: /'
fi
sed 's/^/    /' "$work/freetds.txt"

stop main

# ------------------------------------- certificate checks (expired, wrong host)
# tsql_tls NAME PORT: tsql with `encryption = require` and the test CA;
# succeeds when it logged in and ran SELECT @@VERSION.
tsql_tls() {
    cat > "$work/tsql-$1.conf" <<EOF
[tdstestd]
    host = 127.0.0.1
    port = $2
    tds version = 7.4
    encryption = require
    ca file = $certs/ca.pem
    check certificate hostname = yes
EOF
    printf 'SELECT @@VERSION\ngo\nexit\n' | FREETDSCONF="$work/tsql-$1.conf" TDSVER=7.4 \
        timeout 30 tsql -S tdstestd -U "$user" -P "$pass" -o q > "$work/tsql-$1.out" 2>&1 &&
        grep -q 'SQL Server' "$work/tsql-$1.out"
}
for c in expired wronghost; do
    start "$c" --tls-cert "$certs/$c.pem" --tls-key "$certs/$c.key" --tls-mode on
    if timeout 60 $py "$peers/pytds_check.py" --host localhost --port "$port" --user "$user" \
        --password "$pass" --database "$db" --mode tls --cafile "$certs/ca.pem" \
        --expect-fail > "$work/pytds-$c.txt" 2>&1; then
        ok "pytds refuses the $c certificate"
    else
        bad "pytds accepted the $c certificate"
    fi
    if tsql_tls "$c" "$port"; then
        bad "tsql (encryption = require) accepted the $c certificate"
    else
        ok "tsql (encryption = require) refuses the $c certificate: $(grep -v '^$' "$work/tsql-$c.out" | head -1)"
    fi
    stop "$c"
done

# ------------------------------------------- TLS required
start required --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" --tls-mode required
if timeout 60 $py "$peers/pytds_check.py" --port "$port" --user "$user" --password "$pass" \
    --database "$db" --mode plain --expect-fail > "$work/pytds-req-plain.txt" 2>&1; then
    ok "pytds without TLS refused by --tls-mode required"
else
    bad "pytds without TLS was let in by --tls-mode required"
fi
if timeout 60 $py "$peers/pytds_check.py" --host localhost --port "$port" --user "$user" --password "$pass" \
    --database "$db" --mode tls --cafile "$certs/ca.pem" > "$work/pytds-req-tls.txt" 2>&1; then
    ok "pytds with TLS accepted by --tls-mode required"
else
    bad "pytds with TLS under --tls-mode required: $(tail -2 "$work/pytds-req-tls.txt" | tr '\n' ' ')"
fi
stop required

# ------------------------------------------- routing (ENVCHANGE 20)
start target --verbose
tport=$port
tpid=$spid
start router --route-to "127.0.0.1:$tport"
if timeout 60 $py "$peers/pytds_check.py" --port "$port" --user "$user" --password "$pass" \
    --database "$db" --mode plain > "$work/pytds-route.txt" 2>&1 &&
    grep -q "logged in" "$work/target.log"; then
    ok "pytds followed the routing ENVCHANGE to port $tport"
else
    bad "pytds routing: $(tail -2 "$work/pytds-route.txt" | tr '\n' ' ')"
fi
stop router
spid=$tpid
stop target

# ------------------------------------------- FEDAUTH security token (tedious)
if [ -d "$node_dir/node_modules/tedious" ] && [ -n "${PEER_TOKEN:-}" ]; then
    start fedauth --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" --fedauth-required
    if NODE_PATH="$node_dir/node_modules" timeout 60 node "$peers/tedious_check.js" \
        --port "$port" --database "$db" --encrypt true --ca "$certs/ca.pem" \
        --token "$PEER_TOKEN" > "$work/tedious-fedauth.txt" 2>&1; then
        ok "tedious FEDAUTH token login: $(tail -1 "$work/tedious-fedauth.txt")"
    else
        bad "tedious FEDAUTH: $(tail -3 "$work/tedious-fedauth.txt" | tr '\n' ' ')"
    fi
    stop fedauth
fi

echo "peers: $passed passed, $failed failed"
[ $failed -eq 0 ]
