#!/usr/bin/env bash
# e2e_freebcp_compare.sh — our BulkLoadBCP against FreeTDS's: the same
# rows of the alltypes scenario go into two tables of one build/tdstestd,
# one through `tdspipe ingest` (sink/mssql.c), one through `freebcp … in`
# (FreeTDS's bulk copy, char mode, from its own queryout); both must store
# the same rows with the same column metadata.
#
# FreeTDS's char mode cannot carry sql_variant, xml or the text/ntext/image
# types (its queryout/in pair loses or splits them), and it cuts time(7),
# datetime2(7) and datetimeoffset(7) to milliseconds (dropping the offset),
# so those columns are compared by e2e_mssql_dest.sh's round trip instead;
# it reads year 0001 as 2001, so the minimum-values row (id 1000002) stays
# out too.
#
#   tests/cli/e2e_freebcp_compare.sh BUILD_DIR SRC_DIR
set -u
if ! command -v freebcp >/dev/null; then
  echo "FAIL freebcp is not installed (apt install freetds-bin; scripts/deps.sh)"
  exit 1
fi
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_freebcp_compare "$@"

start_server "$src/tests/server/scenarios/alltypes.json" --verbose
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
cd "$work"
cat >freetds.conf <<EOF
[global]
    tds version = 7.4
    client charset = UTF-8
[t]
    host = 127.0.0.1
    port = $port
    tds version = 7.4
    encryption = off
EOF
export FREETDSCONF=$work/freetds.conf

cols=$(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
skip = {"sql_variant", "xml", "text", "ntext", "image", "time(7)", "datetime2(7)", "datetimeoffset(7)"}
print(", ".join(c["name"] for c in d["databases"][0]["tables"][0]["columns"] if c["type"] not in skip))
' "$src/tests/server/scenarios/alltypes.json")

tp() { "$tdspipe" ingest --no-load-timestamp "$@" >"$work/tp.out" 2>"$work/tp.err"; }
read_back() { # TABLE FILE
  rm -f "$2"
  tp --source-uri "$U" --source-table "query:SELECT * FROM $1 ORDER BY id" --dest-uri "csv://$2" --dest-table x ||
    echo "(read back of $1 failed: $(cat "$work/tp.err"))" >"$2"
}
meta() { # TABLE FILE
  rm -f "$2"
  tp --source-uri "$U" --source-table "query:SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, COLLATION_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '$1' ORDER BY ORDINAL_POSITION" \
    --dest-uri "csv://$2" --dest-table x || echo "(meta of $1 failed)" >"$2"
}

# ours: tdspipe's bulk load creates and fills dbo.ours
tp --source-uri "$U" --source-table "query:SELECT $cols FROM alltypes WHERE id <> 1000002" --dest-uri "$U" --dest-table dbo.ours &&
  ok "tdspipe bulk load" || bad "tdspipe bulk load" "$(cat "$work/tp.err")"
# theirs: the same table, empty (same DDL), then freebcp in
tp --source-uri "$U" --source-table "query:SELECT $cols FROM alltypes WHERE id < 0" --dest-uri "$U" \
  --dest-table dbo.theirs && ok "empty twin table" || bad "empty twin table" "$(cat "$work/tp.err")"
timeout 60 freebcp "SELECT $cols FROM types.dbo.alltypes WHERE id <> 1000002 ORDER BY id" queryout all.txt -c -S t -U sa -P 'Passw0rd!' \
  -D types >bcp-out.log 2>&1 || bad "freebcp queryout" "$(tail -3 bcp-out.log)"
timeout 60 freebcp types.dbo.theirs in all.txt -c -S t -U sa -P 'Passw0rd!' -D types >bcp-in.log 2>&1
if grep -q "^22 rows copied" bcp-in.log && ! grep -q "^Msg" bcp-in.log; then ok "freebcp in: 22 rows, no server message"
else bad "freebcp in" "$(tail -4 bcp-in.log | tr '\n' ' ')"; fi

read_back dbo.ours ours.csv
read_back dbo.theirs theirs.csv
[ "$(grep -c '' ours.csv)" = 23 ] && ok "ours holds 22 rows" || bad "ours rows" "$(head -c 300 ours.csv)"
if cmp -s ours.csv theirs.csv; then ok "freebcp and tdspipe stored the same rows"
else bad "same rows" "$(diff ours.csv theirs.csv | head -6 | cut -c1-300)"; fi
meta ours ours.meta
meta theirs theirs.meta
if cmp -s ours.meta theirs.meta; then ok "same column metadata"
else bad "same column metadata" "$(diff ours.meta theirs.meta | head -6)"; fi
# and both equal the source's own rows of those columns
rm -f src.csv
tp --source-uri "$U" --source-table "query:SELECT $cols FROM alltypes WHERE id <> 1000002 ORDER BY id" --dest-uri csv://src.csv --dest-table x
cmp -s src.csv ours.csv && ok "ours equals the source" || bad "ours equals the source" "$(diff src.csv ours.csv | head -4 | cut -c1-300)"

# the wire: the bulk COLMETADATA each client sent (tdstestd --verbose logs
# every column of a BULK message: type, length, precision, scale, flags,
# collation), ours for dbo.ours and FreeTDS's for dbo.theirs
bulk_meta() { # CONN_NUMBER_OF_THE_LOAD → the column lines without the prefix
  grep -a "conn $1: bulk column" "$srv_err" | sed 's/^.*bulk column //'
}
conn_of() { # TABLE → the connection that ran INSERT BULK into it
  grep -a -i "batch: insert bulk.*$1" "$srv_err" | head -1 | sed -n 's/^.*conn \([0-9]*\):.*$/\1/p'
}
c_ours=$(conn_of "_ours\\|\\.\\[ours\\]\\|ours ")
c_theirs=$(conn_of "theirs")
bulk_meta "$c_ours" >ours.wire
bulk_meta "$c_theirs" >theirs.wire
if [ -s ours.wire ] && [ "$(grep -c '' ours.wire)" = "$(echo "$cols" | tr ',' '\n' | grep -c .)" ]; then
  ok "our bulk metadata logged ($(grep -c '' ours.wire) columns)"
else bad "our bulk metadata logged" "conn [$c_ours]: $(head -3 ours.wire)"; fi
# one known difference: for a datetime2(0) column FreeTDS sends scale 7
# (the server rounds); we send the column's own scale 0
grep -q "c_datetime2_0: type 0x2A len 6 prec 0 scale 0 " ours.wire && ok "datetime2(0) sent with its own scale" ||
  bad "datetime2(0) sent with its own scale" "$(grep c_datetime2_0 ours.wire)"
if cmp -s <(grep -v c_datetime2_0 ours.wire) <(grep -v c_datetime2_0 theirs.wire); then
  ok "otherwise the same bulk COLMETADATA as freebcp on the wire"
else bad "the same bulk COLMETADATA as freebcp" "$(diff ours.wire theirs.wire | head -12)"; fi

finish
