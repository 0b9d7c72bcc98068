#!/bin/sh
# freetds.sh — FreeTDS (Debian freetds-bin: tsql, freebcp; built with GnuTLS)
# against a running tdstestd.
#
#   freetds.sh PORT CA_PEM WORKDIR
#   env: PEER_USER PEER_PASSWORD PEER_DB PEER_TABLE PEER_BCP_TARGET PEER_OUT
#
# Checks, each printed as "ok"/"FAIL" with the reason:
#   tsql, TDS 7.4, encryption off (no TLS), request (login-only TLS) and
#   require (full TLS, certificate checked against CA_PEM):
#   SELECT @@VERSION and every row of the all-types table;
#   freebcp queryout -c of the all-types table;
#   freebcp in -c into PEER_BCP_TARGET, then queryout again and compare.
# Exit status: the number of failed checks (0 = all passed).
set -u

port=${1:?port}
ca=${2:?ca}
work=${3:?workdir}
user=${PEER_USER:-sa}
pass=${PEER_PASSWORD:-Passw0rd!}
db=${PEER_DB:-testdb}
table=${PEER_TABLE:-all_types}
target=${PEER_BCP_TARGET:-bcp_target}
mkdir -p "$work"
failed=0
pass_n=0

ok() { echo "freetds: ok   $*"; pass_n=$((pass_n + 1)); }
bad() { echo "freetds: FAIL $*"; failed=$((failed + 1)); }

conf() { # name encryption
    cat > "$work/freetds-$1.conf" <<EOF
[global]
    tds version = 7.4
    client charset = UTF-8
[tdstestd]
    host = 127.0.0.1
    port = $port
    tds version = 7.4
    encryption = $2
    ca file = $ca
    check certificate hostname = yes
EOF
}

tsql_run() { # mode sql... -> output in $work/tsql-$mode.out
    mode=$1
    shift
    conf "$mode" "$mode"
    {
        for q in "$@"; do printf '%s\ngo\n' "$q"; done
        printf 'exit\n'
    } | FREETDSCONF="$work/freetds-$mode.conf" TDSVER=7.4 timeout 30 \
        tsql -S tdstestd -U "$user" -P "$pass" -D "$db" -o q \
        > "$work/tsql-$mode.out" 2>&1
}

for mode in off request require; do
    if tsql_run "$mode" "SELECT @@VERSION" "SELECT * FROM $table"; then
        out="$work/tsql-$mode.out"
        if grep -qiE 'Msg [0-9]+|error|unable|failed' "$out"; then
            bad "tsql encryption=$mode: $(grep -iE 'Msg|error|unable|failed' "$out" | head -3 | tr '\n' ' ')"
        elif ! grep -q 'SQL Server' "$out"; then
            bad "tsql encryption=$mode: no @@VERSION in output"
        else
            rows=$(grep -cE 'rows? affected' "$out")
            ok "tsql encryption=$mode: @@VERSION and $table read ($rows result sets)"
        fi
    else
        bad "tsql encryption=$mode: exit status $? ($(tail -3 "$work/tsql-$mode.out" | tr '\n' ' '))"
    fi
done
[ -n "${PEER_OUT:-}" ] && cp "$work/tsql-require.out" "$PEER_OUT" 2>/dev/null

# freebcp uses the "request" config (login-only TLS, the FreeTDS default).
export FREETDSCONF="$work/freetds-request.conf"
bcp() { TDSVER=7.4 timeout 60 freebcp "$@" -S tdstestd -U "$user" -P "$pass" -c -t '|' \
        > "$work/bcp.log" 2>&1; }

if bcp "SELECT * FROM $db.dbo.$table" queryout "$work/out1.txt"; then
    ok "freebcp queryout $table: $(wc -l < "$work/out1.txt") rows"
else
    bad "freebcp queryout $table: $(tail -3 "$work/bcp.log" | tr '\n' ' ')"
fi

if [ -s "$work/out1.txt" ]; then
    if bcp "$db.dbo.$target" in "$work/out1.txt"; then
        if bcp "SELECT * FROM $db.dbo.$target" queryout "$work/out2.txt"; then
            if cmp -s "$work/out1.txt" "$work/out2.txt"; then
                ok "freebcp in $target: $(wc -l < "$work/out2.txt") rows read back identical"
            else
                bad "freebcp in $target: read back differs: $(diff "$work/out1.txt" "$work/out2.txt" | head -4 | tr '\n' ' ')"
            fi
        else
            bad "freebcp queryout $target: $(tail -3 "$work/bcp.log" | tr '\n' ' ')"
        fi
    else
        bad "freebcp in $target: $(tail -3 "$work/bcp.log" | tr '\n' ' ')"
    fi
fi

echo "freetds: $pass_n passed, $failed failed"
exit "$failed"
