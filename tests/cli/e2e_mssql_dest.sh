#!/usr/bin/env bash
# e2e_mssql_dest.sh — SQL Server as a destination (sink/mssql.c, bulk load
# through net/bulk.c) end to end against build/tdstestd: every type of the
# alltypes scenario round-trips (table → table → CSV, identical to the
# source's CSV, same column metadata); every strategy; rejections report
# the server's message in one line and leave the target unchanged.
#
#   tests/cli/e2e_mssql_dest.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_mssql_dest "$@"

start_server "$src/tests/server/scenarios/alltypes.json"
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
cd "$work"

# run NAME EXPECTED_RC ARGS…
run() {
  local name=$1 want=$2; shift 2
  "$tdspipe" "$@" >"$work/out" 2>"$work/err"
  rc=$?
  if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"; else bad "$name: exit $rc, wanted $want" "$(cat "$work/err")"; fi
}
# to_csv TABLE FILE: the table's rows, ordered by id, as CSV
to_csv() {
  rm -f "$2"
  "$tdspipe" ingest --source-uri "$U" --source-table "query:SELECT * FROM $1 ORDER BY id" --dest-uri "csv://$2" \
    --dest-table x --no-load-timestamp >/dev/null 2>"$work/csv.err" || echo "(to_csv $1 failed: $(cat "$work/csv.err"))" >"$2"
}
meta() {
  rm -f "$2"
  "$tdspipe" ingest --source-uri "$U" --source-table "query:SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, COLLATION_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '$1' ORDER BY ORDINAL_POSITION" \
    --dest-uri "csv://$2" --dest-table x --no-load-timestamp >/dev/null 2>&1 || echo "(meta $1 failed)" >"$2"
}
same_file() { if cmp -s "$2" "$3"; then ok "$1"; else bad "$1" "$(diff "$2" "$3" | head -12 | cut -c1-200)"; fi; }
one_line_err() { # NAME NEEDLE
  if grep -qF -- "$2" "$work/err" && [ "$(grep -c '' "$work/err")" = 1 ]; then ok "$1"; else bad "$1" "stderr: $(cut -c1-300 "$work/err")"; fi
}
load() { # TABLE STRATEGY [extra flags…]
  local t=$1 st=$2; shift 2
  "$tdspipe" ingest --source-uri "$U" --source-table dbo.alltypes --dest-uri "$U" --dest-table "dbo.$t" \
    --incremental-strategy "$st" --no-load-timestamp "$@"
}

to_csv dbo.alltypes src.csv
meta alltypes src.meta
[ "$(grep -c '' src.csv)" = 24 ] && ok "source has 23 rows" || bad "source rows" "$(wc -l <src.csv)"

# ---------------------------------------------------- every type, append
run "append into a new table" 0 ingest --source-uri "$U" --source-table dbo.alltypes --dest-uri "$U" \
  --dest-table dbo.rt --incremental-strategy append --no-load-timestamp
to_csv dbo.rt rt.csv
same_file "every value round-trips" src.csv rt.csv
meta rt rt.meta
same_file "the source's own types (lengths, collations, precision)" src.meta rt.meta
# the other scheme names reach the same sink
run "sqlserver:// scheme" 0 ingest --source-uri "$U" --source-table dbo.alltypes \
  --dest-uri "sqlserver://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable" --dest-table dbo.rt_ss \
  --incremental-strategy append --no-load-timestamp
to_csv dbo.rt_ss rt_ss.csv; same_file "sqlserver:// round-trip" src.csv rt_ss.csv
run "azuresql:// scheme" 0 ingest --source-uri "$U" --source-table dbo.alltypes \
  --dest-uri "azuresql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable" --dest-table dbo.rt_az \
  --incremental-strategy append --no-load-timestamp
to_csv dbo.rt_az rt_az.csv; same_file "azuresql:// round-trip" src.csv rt_az.csv
# a new schema is created; small pages give several bulk batches
run "new schema, --page-size 5" 0 ingest --source-uri "$U" --source-table dbo.alltypes --dest-uri "$U" \
  --dest-table newschema.rt --incremental-strategy append --no-load-timestamp --page-size 5
to_csv newschema.rt ns.csv; same_file "five batches, same rows" src.csv ns.csv

# ------------------------------------------------ rejections leave it as it was
run "duplicate key rejected" 1 ingest --source-uri "$U" --source-table dbo.alltypes --dest-uri "$U" \
  --dest-table dbo.rt --incremental-strategy append --no-load-timestamp --primary-key id --incremental-key id --interval-start 20
one_line_err "server's message, one line" "Violation of PRIMARY KEY"
to_csv dbo.rt rt2.csv; same_file "target unchanged after the rejection" src.csv rt2.csv

# truncation: a target someone made with a narrower column
"$tdspipe" ingest --source-uri "$U" --source-table "query:SELECT id, c_int AS c_varchar FROM alltypes" \
  --dest-uri "$U" --dest-table dbo.narrow_t --incremental-strategy append --primary-key id --no-load-timestamp \
  >/dev/null 2>&1
to_csv dbo.narrow_t narrow0.csv
run "truncation rejected" 1 ingest --source-uri "$U" --source-table "query:SELECT id + 100 AS id, c_varchar FROM alltypes" \
  --dest-uri "$U" --dest-table dbo.narrow_t --incremental-strategy append --no-load-timestamp
grep -q . "$work/err" && [ "$(grep -c '' "$work/err")" = 1 ] && ok "truncation message is one line" ||
  bad "truncation message" "$(cat "$work/err")"
to_csv dbo.narrow_t narrow1.csv; same_file "target unchanged after truncation" narrow0.csv narrow1.csv

# ------------------------------------------------------------ strategies
load rep replace --primary-key id >/dev/null 2>&1
load rep replace --primary-key id >"$work/out" 2>"$work/err" && ok "replace twice" || bad "replace twice" "$(cat "$work/err")"
to_csv dbo.rep rep.csv; same_file "replace: the source's rows once" src.csv rep.csv
meta rep rep.meta; same_file "replace: the source's types" src.meta rep.meta

load di delete+insert --incremental-key id --primary-key id >/dev/null 2>&1
load di delete+insert --incremental-key id --primary-key id >"$work/out" 2>"$work/err" &&
  ok "delete+insert twice" || bad "delete+insert twice" "$(cat "$work/err")"
to_csv dbo.di di.csv; same_file "delete+insert: no duplicates" src.csv di.csv
load di delete+insert --incremental-key id --primary-key id --interval-start 5 --interval-end 10 \
  >"$work/out" 2>"$work/err" && ok "delete+insert window" || bad "delete+insert window" "$(cat "$work/err")"
to_csv dbo.di di2.csv; same_file "delete+insert window: same rows" src.csv di2.csv

# merge of every type: into a new table, then again (every key matches)
load mg merge --primary-key id >"$work/out" 2>"$work/err" &&
  ok "merge into a new table" || bad "merge into a new table" "$(cat "$work/err")"
load mg merge --primary-key id >"$work/out" 2>"$work/err" &&
  ok "merge again (every key matches)" || bad "merge again" "$(cat "$work/err")"
to_csv dbo.mg mg.csv; same_file "merge: one row per key, every type" src.csv mg.csv
# merge changes rows: a query source with changed values for some keys
"$tdspipe" ingest --source-uri "$U" --source-table "query:SELECT id, c_int FROM alltypes WHERE id <= 3" \
  --dest-uri "$U" --dest-table dbo.mg2 --incremental-strategy merge --primary-key id --no-load-timestamp >/dev/null 2>&1
"$tdspipe" ingest --source-uri "$U" --source-table "query:SELECT id, c_smallint AS c_int FROM alltypes WHERE id >= 2 AND id <= 4" \
  --dest-uri "$U" --dest-table dbo.mg2 --incremental-strategy merge --primary-key id --no-load-timestamp \
  >"$work/out" 2>"$work/err" || bad "merge update" "$(cat "$work/err")"
"$tdspipe" ingest --source-uri "$U" --source-table "query:SELECT id, c_int FROM alltypes WHERE id = 1" \
  --dest-uri csv://want1.csv --dest-table x --no-load-timestamp >/dev/null 2>&1
"$tdspipe" ingest --source-uri "$U" --source-table "query:SELECT id, c_smallint AS c_int FROM alltypes WHERE id >= 2 AND id <= 4" \
  --dest-uri csv://want2.csv --dest-table x --no-load-timestamp >/dev/null 2>&1
{ cat want1.csv; tail -n +2 want2.csv; } >want.csv
to_csv dbo.mg2 mg2.csv; same_file "merge: kept, updated and inserted rows" want.csv mg2.csv

# -------------------------- merge: repeated keys, text keys, composite keys
# sources built on the server: appends into tables without a key
seed_q() { # TABLE QUERY
  "$tdspipe" ingest --source-uri "$U" --source-table "query:$2" --dest-uri "$U" --dest-table "dbo.$1" \
    --incremental-strategy append --no-load-timestamp >/dev/null 2>"$work/seed.err" || bad "seed $1" "$(cat "$work/seed.err")"
}
q_csv() { # QUERY FILE
  rm -f "$2"
  "$tdspipe" ingest --source-uri "$U" --source-table "query:$1" --dest-uri "csv://$2" --dest-table x \
    --no-load-timestamp >/dev/null 2>"$work/csv.err" || echo "(q_csv failed: $(cat "$work/csv.err"))" >"$2"
}
merge_q() { # NAME QUERY TABLE KEYS…
  local name=$1 q=$2 t=$3; shift 3
  local keys=()
  for k in "$@"; do keys+=(--primary-key "$k"); done
  "$tdspipe" ingest --source-uri "$U" --source-table "query:$q" --dest-uri "$U" --dest-table "dbo.$t" \
    --incremental-strategy merge "${keys[@]}" --no-load-timestamp >"$work/out" 2>"$work/err" &&
    ok "$name" || bad "$name" "$(cat "$work/err")"
}
# ids 3-5 twice in one load: the later row wins
seed_q dupsrc "SELECT id, c_int AS v FROM alltypes WHERE id <= 5"
seed_q dupsrc "SELECT id, c_smallint AS v FROM alltypes WHERE id >= 3 AND id <= 7"
merge_q "merge seed (ids 6-9)" "SELECT id, c_bigint AS v FROM alltypes WHERE id >= 6 AND id <= 9" dupdst id
merge_q "merge with repeated keys in one load" "SELECT id, v FROM dupsrc" dupdst id
q_csv "SELECT id, v FROM dupdst ORDER BY id" dup.csv
{ q_csv "SELECT id, c_int AS v FROM alltypes WHERE id <= 2 ORDER BY id" w1.csv; cat w1.csv
  q_csv "SELECT id, c_smallint AS v FROM alltypes WHERE id >= 3 AND id <= 7 ORDER BY id" w2.csv; tail -n +2 w2.csv
  q_csv "SELECT id, c_bigint AS v FROM alltypes WHERE id >= 8 AND id <= 9 ORDER BY id" w3.csv; tail -n +2 w3.csv
} >dupwant.csv
same_file "repeated keys: the last row per key, the others kept" dupwant.csv dup.csv
# nvarchar keys: SQL Server's default collation folds case and trailing
# blanks, so 'k', 'K' and 'k ' are one key (as the primary key says)
for kv in "k|1" "x|2" "K|3" "k |4" "Y|5"; do
  seed_q txtsrc "SELECT CAST(N'${kv%%|*}' AS nvarchar(10)) AS k, ${kv##*|} AS v"
done
seed_q txtseed "SELECT CAST(N'y' AS nvarchar(10)) AS k, 0 AS v"
seed_q txtseed "SELECT CAST(N'z' AS nvarchar(10)) AS k, 9 AS v"
merge_q "merge seed (text keys)" "SELECT k, v FROM txtseed" txtdst k
merge_q "merge with text keys" "SELECT k, v FROM txtsrc" txtdst k
q_csv "SELECT v, k FROM txtdst ORDER BY v" txt.csv
printf 'v,k\n2,x\n4,"k "\n5,Y\n9,z\n' >txtwant.csv
same_file "text keys: one row per key under the collation, the latest" txtwant.csv txt.csv
# a composite key (int, nvarchar)
for r in "1|a|1" "1|b|2" "2|a|3" "1|A|4"; do
  IFS='|' read -r i k v <<<"$r"
  seed_q cmpsrc "SELECT $i AS id, CAST(N'$k' AS nvarchar(10)) AS k, $v AS v"
done
seed_q cmpseed "SELECT 2 AS id, CAST(N'a' AS nvarchar(10)) AS k, 0 AS v"
seed_q cmpseed "SELECT 3 AS id, CAST(N'a' AS nvarchar(10)) AS k, 0 AS v"
merge_q "merge seed (composite key)" "SELECT id, k, v FROM cmpseed" cmpdst id k
merge_q "merge with a composite key" "SELECT id, k, v FROM cmpsrc" cmpdst id k
q_csv "SELECT id, k, v FROM cmpdst ORDER BY id, v" cmp.csv
printf 'id,k,v\n1,b,2\n1,A,4\n2,a,3\n3,a,0\n' >cmpwant.csv
same_file "composite key: (1,a) and (1,A) are one key" cmpwant.csv cmp.csv
q_csv "SELECT COUNT(*) AS n FROM sys.tables WHERE name = '_tdspipe_stage_dupdst' OR name = '_tdspipe_stage_txtdst' OR name = '_tdspipe_stage_cmpdst'" stages.csv
printf 'n\n0\n' >nostage.csv
same_file "no stage table left behind" nostage.csv stages.csv

# --------------------------------------- incremental cursor from the target
run "append incremental (cursor from the target's MAX)" 0 ingest --source-uri "$U" --source-table dbo.alltypes \
  --dest-uri "$U" --dest-table dbo.rt --incremental-strategy append --incremental-key id --no-load-timestamp
to_csv dbo.rt rt3.csv; same_file "nothing loaded twice" src.csv rt3.csv

# ------------------------------- a connection dropped in the middle of a bulk
# A second server whose every connection closes when its 15th bulk row
# arrives (and after 15 rows of any reply: reads stay below that).
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); d["faults"] = {"close_after_rows": 15}
json.dump(d, open(sys.argv[2], "w"))' "$src/tests/server/scenarios/alltypes.json" "$work/faulty.json"
start_server "$work/faulty.json"; fport=$port
F="mssql://sa:Passw0rd%21@127.0.0.1:$fport/types?encrypt=disable"
f_csv() { # TABLE FILE: read in two halves, each below the fault's 15 rows
  rm -f "$2" h1.csv h2.csv
  "$tdspipe" ingest --source-uri "$F" --source-table "query:SELECT * FROM $1 WHERE id <= 12 ORDER BY id" \
    --dest-uri csv://h1.csv --dest-table x --no-load-timestamp >/dev/null 2>&1
  "$tdspipe" ingest --source-uri "$F" --source-table "query:SELECT * FROM $1 WHERE id > 12 ORDER BY id" \
    --dest-uri csv://h2.csv --dest-table x --no-load-timestamp >/dev/null 2>&1
  { cat h1.csv; tail -n +2 h2.csv; } >"$2" 2>/dev/null
}
# two connections, each below the fault
run "load below the fault (1)" 0 ingest --source-uri "$U" --source-table "query:SELECT * FROM alltypes WHERE id <= 12" \
  --dest-uri "$F" --dest-table dbo.ft --incremental-strategy append --no-load-timestamp
run "load below the fault (2)" 0 ingest --source-uri "$U" --source-table "query:SELECT * FROM alltypes WHERE id > 12" \
  --dest-uri "$F" --dest-table dbo.ft --incremental-strategy append --no-load-timestamp
f_csv dbo.ft ft0.csv; same_file "faulty server holds the rows" src.csv ft0.csv
for st in append replace; do
  run "$st: connection dropped in mid-bulk" 1 ingest --source-uri "$U" --source-table dbo.alltypes --dest-uri "$F" \
    --dest-table dbo.ft --incremental-strategy "$st" --no-load-timestamp --page-size 20
  [ "$(grep -c '' "$work/err")" = 1 ] && ok "$st: one-line message" || bad "$st: one-line message" "$(cat "$work/err")"
  f_csv dbo.ft ft1.csv; same_file "$st: target unchanged after the drop" src.csv ft1.csv
done
# a later batch of the same load fails: the earlier ones roll back too
"$tdspipe" ingest --source-uri "$U" --source-table "query:SELECT * FROM alltypes WHERE id <= 5" --dest-uri "$F" \
  --dest-table dbo.ft2 --incremental-strategy append --no-load-timestamp >/dev/null 2>&1
f_csv dbo.ft2 ft2a.csv
run "second batch dropped" 1 ingest --source-uri "$U" --source-table "query:SELECT * FROM alltypes WHERE id > 5" \
  --dest-uri "$F" --dest-table dbo.ft2 --incremental-strategy append --no-load-timestamp --page-size 10
f_csv dbo.ft2 ft2b.csv; same_file "first batch rolled back with it" ft2a.csv ft2b.csv

# ------------------------------------------- a permission the login lacks
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["rules"] = [{"match": "^INSERT BULK", "error": {"number": 4834, "severity": 16, "state": 1,
               "message": "You do not have permission to use the bulk load statement."}}]
json.dump(d, open(sys.argv[2], "w"))' "$src/tests/server/scenarios/alltypes.json" "$work/noperm.json"
start_server "$work/noperm.json"; pport=$port
NP="mssql://sa:Passw0rd%21@127.0.0.1:$pport/types?encrypt=disable"
run "bulk load permission refused" 1 ingest --source-uri "$U" --source-table dbo.alltypes --dest-uri "$NP" \
  --dest-table dbo.alltypes --incremental-strategy append --no-load-timestamp
one_line_err "the server's permission message" "You do not have permission to use the bulk load statement"
rm -f np.csv
"$tdspipe" ingest --source-uri "$NP" --source-table "query:SELECT * FROM alltypes ORDER BY id" --dest-uri csv://np.csv \
  --dest-table x --no-load-timestamp >/dev/null 2>&1
same_file "target unchanged after the refusal" src.csv np.csv

# --------------------------------------------- TLS modes and token login
sh "$src/tests/server/certs.sh" "$work/certs" >/dev/null 2>&1 || bad "certs.sh"
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); d["logins"].append({"token": "*"})
json.dump(d, open(sys.argv[2], "w"))' "$src/tests/server/scenarios/alltypes.json" "$work/tls.json"
start_tls() { # NAME ARGS… → sets tport (and sport for the strict listener)
  local o=$work/$1.ports; shift
  : >"$o"
  "$tdstestd" --scenario "$work/tls.json" --port 0 --tls-cert "$work/certs/server.pem" \
    --tls-key "$work/certs/server.key" "$@" >"$o" 2>"$o.err" &
  pids+=($!)
  tport= sport=
  for _ in $(seq 100); do
    tport=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$o" | head -1)
    sport=$(sed -n 's/^strict-port \([0-9]*\)$/\1/p' "$o" | head -1)
    [ -n "$tport" ] && { [ "$#" -lt 3 ] || [ -n "$sport" ]; } && break
    sleep 0.05
  done
}
tls_n=0
tls_load() { # NAME DEST_URI: 23 rows into a new table, counted back through the same URI
  tls_n=$((tls_n + 1))
  run "$1" 0 ingest --source-uri "$U" --source-table dbo.alltypes --dest-uri "$2" --dest-table "dbo.tls_$tls_n" \
    --incremental-strategy replace --no-load-timestamp
  rm -f tls.csv
  "$tdspipe" ingest --source-uri "$2" --source-table "query:SELECT COUNT(*) AS n FROM tls_$tls_n" --dest-uri csv://tls.csv \
    --dest-table x --no-load-timestamp >/dev/null 2>&1
  [ "$(tail -1 tls.csv 2>/dev/null | tr -d '\r')" = 23 ] && ok "$1: rows stored" || bad "$1: rows stored"
}
ca=$(printf '%s' "$work/certs/ca.pem" | sed 's|/|%2F|g')
start_tls tls --tls-mode on --strict-port 0
T="127.0.0.1:$tport/types"
tls_load "encrypt=true, certificate checked" "mssql://sa:Passw0rd%21@$T?encrypt=true&ServerCertificate=$ca"
tls_load "encrypt=optional (login only)" "sqlserver://sa:Passw0rd%21@$T?encrypt=optional&TrustServerCertificate=yes"
tls_load "encrypt=strict (TDS 8.0)" "mssql://sa:Passw0rd%21@127.0.0.1:$sport/types?encrypt=strict&ServerCertificate=$ca"
run "untrusted certificate refused" 1 ingest --source-uri "$U" --source-table dbo.alltypes \
  --dest-uri "mssql://sa:Passw0rd%21@$T?encrypt=true" --dest-table dbo.tls_u --no-load-timestamp
grep -q "Passw0rd" "$work/err" && bad "password in the message" || ok "no password in the message"
start_tls fed --tls-mode on --fedauth-required
tls_load "access-token login" \
  "azuresql://:eyJ0eXAiOiJKV1QiSECRETTOKEN@127.0.0.1:$tport/types?Authentication=ActiveDirectoryAccessToken&ServerCertificate=$ca"

finish
