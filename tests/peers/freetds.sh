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
#   freebcp queryout -c of the all-types table, every value compared with
#   the scenario (check_values.py --freebcp);
#   freebcp in -c of that export (years below 100, which FreeTDS cannot
#   read from text, moved to 20xx) into PEER_BCP_TARGET: all rows copied,
#   no server message, and a second queryout equal to the load file.
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
here=$(cd "$(dirname "$0")" && pwd)
scenario=${PEER_SCENARIO:-$here/scenario.json}
check="/usr/bin/python3 $here/check_values.py $scenario $table --freebcp"
# Rows the scenario defines for the table (every one must come back) and
# its first column (the header line tsql prints before the rows).
set -- $(/usr/bin/python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
from check_values import find_table, columns_of
t = find_table(json.load(open(sys.argv[2])), sys.argv[3])
print(len(t.get("data", [])), columns_of(t)[0][0])
' "$here" "$scenario" "$table")
nrows=$1
first_col=$2
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
        # tsql -o q prints each result set as a header line and one line per
        # row; the all-types rows hold no newlines.
        rows=$(awk -v h="$first_col" '$1 == h { on = 1; next } on && NF { n++ } END { print n + 0 }' FS='\t' "$out")
        if grep -qiE 'Msg [0-9]+|error|unable|failed' "$out"; then
            bad "tsql encryption=$mode: $(grep -iE 'Msg|error|unable|failed' "$out" | head -3 | tr '\n' ' ')"
        elif ! grep -q 'SQL Server' "$out"; then
            bad "tsql encryption=$mode: no @@VERSION in output"
        elif [ "$rows" != "$nrows" ]; then
            bad "tsql encryption=$mode: $rows rows of $table, expected $nrows"
        elif ! grep -q -- '-9223372036854775808' "$out" ||
            ! grep -q '1234567890123456789012345678.0123456789' "$out" ||
            ! grep -q '6F9619FF-8B86-D011-B42D-00C04FC964FF' "$out"; then
            bad "tsql encryption=$mode: bigint/decimal/GUID values missing from the output"
        else
            ok "tsql encryption=$mode: @@VERSION and $rows rows of $table"
        fi
    else
        bad "tsql encryption=$mode: exit status $? ($(tail -3 "$work/tsql-$mode.out" | tr '\n' ' '))"
    fi
done
[ -n "${PEER_OUT:-}" ] && cp "$work/tsql-require.out" "$PEER_OUT" 2>/dev/null

# freebcp uses the "request" config (login-only TLS, the FreeTDS default).
export FREETDSCONF="$work/freetds-request.conf"
# bcp LOG ARGS...: one freebcp run, its output in $work/LOG (also bcp.log).
bcp() {
    log=$1
    shift
    TDSVER=7.4 timeout 60 freebcp "$@" -S tdstestd -U "$user" -P "$pass" -c -t '|' \
        > "$work/$log" 2>&1
    st=$?
    cp "$work/$log" "$work/bcp.log"
    return $st
}

if bcp bcp-out1.log "SELECT * FROM $db.dbo.$table" queryout "$work/out1.txt"; then
    if res=$($check "$work/out1.txt" 2>&1); then
        ok "freebcp queryout $table: $(echo "$res" | tail -1)"
    else
        bad "freebcp queryout $table values: $(echo "$res" | tail -4 | tr '\n' ' ')"
    fi
else
    bad "freebcp queryout $table: $(tail -3 "$work/bcp.log" | tr '\n' ' ')"
fi

if [ -s "$work/out1.txt" ]; then
    # The load file is the export with one change: FreeTDS cannot read a
    # year below 100 from text (it takes "1-01-02" as a two-digit year, even
    # in another field order for datetimeoffset; seen on the wire), so those
    # dates move to 2001 with four digits. The rows read back must then
    # equal the load file exactly.
    /usr/bin/python3 -c '
import re, sys
t = open(sys.argv[1], "rb").read().decode("utf-8")
t = re.sub(r"(^|\|)(\d{1,2})-(\d\d-\d\d )", lambda m: "%s%d-%s" % (m[1], 2000 + int(m[2]), m[3]), t, flags=re.M)
open(sys.argv[2], "wb").write(t.encode("utf-8"))
' "$work/out1.txt" "$work/in.txt"
    # freebcp prints "N rows copied" and exits 0 even when the server
    # rejected the batch: the server's messages decide.
    if bcp bcp-in.log "$db.dbo.$target" in "$work/in.txt" && grep -q "^$nrows rows copied" "$work/bcp-in.log" &&
        ! grep -q '^Msg ' "$work/bcp-in.log"; then
        if bcp bcp-out2.log "SELECT * FROM $db.dbo.$target" queryout "$work/out2.txt"; then
            if [ ! -s "$work/out2.txt" ]; then
                bad "freebcp in $target: freebcp said \"$(grep 'rows copied' "$work/bcp-in.log")\" but nothing was stored"
            elif cmp -s "$work/in.txt" "$work/out2.txt"; then
                ok "freebcp in $target: $nrows rows stored; read back equal to the loaded file"
            else
                bad "freebcp in $target: read back differs: $(diff "$work/in.txt" "$work/out2.txt" | cut -c1-120 | head -4 | tr '\n' ' ')"
            fi
        else
            bad "freebcp queryout $target: $(tail -3 "$work/bcp.log" | tr '\n' ' ')"
        fi
    else
        bad "freebcp in $target: $(grep -v '^$' "$work/bcp-in.log" | tail -3 | tr '\n' ' ')"
    fi
fi

echo "freetds: $pass_n passed, $failed failed"
exit "$failed"
