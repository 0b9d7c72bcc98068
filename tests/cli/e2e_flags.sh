#!/usr/bin/env bash
# e2e_flags.sh — ingestr's flags end to end against build/tdstestd:
# --trim-whitespace and --mask land in SQLite and CSV destinations as
# ingestr writes them (digests computed here with sha256sum, md5sum and
# openssl, not by tdspipe); NULLs stay NULL; a streamed nvarchar(max)
# value is trimmed too; a mask of a missing column, and every flag tdspipe
# refuses, exit 2 with one line naming it and leave nothing behind.
#
#   tests/cli/e2e_flags.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_flags "$@"
cd "$work"

cat >people.json <<'EOF'
{
  "logins": [ { "user": "sa", "password": "Passw0rd!", "database": "demo" } ],
  "databases": [ { "name": "demo", "tables": [ {
    "schema": "dbo", "name": "people",
    "columns": [
      { "name": "id", "type": "int", "nullable": false },
      { "name": "name", "type": "nvarchar(50)" },
      { "name": "code", "type": "varchar(20)" },
      { "name": "email", "type": "varchar(100)" },
      { "name": "note", "type": "nvarchar(max)" },
      { "name": "amount", "type": "decimal(10,2)" }
    ],
    "primary_key": [ "id" ],
    "data": [
      [ 1, "  Alice  ", "\tA-123\n", "alice@example.com", "  first note  ", 10.50 ],
      [ 2, "Bob", " B 7 ", null, null, null ],
      [ 3, "Zoë Ünicode", "C", "zoe@example.com", "x", 3.00 ]
    ] } ] } ]
}
EOF
start_server "$work/people.json"
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"
q() { sqlite3 "$1" "$2" 2>&1; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
md5() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }
hmac() { printf '%s' "$2" | openssl dgst -sha256 -hmac "$1" | sed 's/.*= //'; }
load() { # NAME RC DEST_DB ARGS…
  local name=$1 rc=$2 db=$3; shift 3
  run "$name" "$rc" ingest --source-uri "$U" --source-table dbo.people --dest-uri "sqlite:///$work/$db" \
    --progress log --no-load-timestamp "$@"
}

# ------------------------------------------------------ --trim-whitespace
load "no trim" 0 plain.db
same "without the flag, spaces stay" "$(q plain.db "select '[' || name || ']' from people where id = 1")" "[  Alice  ]"
load "trim" 0 trim.db --trim-whitespace
same "nvarchar trimmed" "$(q trim.db "select '[' || name || ']' from people order by id" | tr '\n' ' ')" \
  "[Alice] [Bob] [Zoë Ünicode] "
same "varchar tab/newline trimmed, interior kept" "$(q trim.db "select '[' || code || ']' from people order by id" | tr '\n' ' ')" \
  "[A-123] [B 7] [C] "
same "streamed nvarchar(max) trimmed" "$(q trim.db "select '[' || note || ']' from people where id = 1")" "[first note]"
same "NULLs stay NULL" "$(q trim.db "select typeof(note) || typeof(email) from people where id = 2")" "nullnull"
same "numbers untouched" "$(q trim.db "select amount from people where id = 1")" "10.50"
TRIM_WHITESPACE=true load "trim from TRIM_WHITESPACE" 0 trim_env.db
same "env trims" "$(q trim_env.db "select '[' || name || ']' from people where id = 1")" "[Alice]"

# ------------------------------------------------------------- --mask
load "hashes" 0 hash.db --mask email:hash --mask code:md5 --mask "name:hmac:s3cr:et" --mask amount:sha256
same "hash = sha256 hex" "$(q hash.db "select email from people where id = 1")" "$(sha alice@example.com)"
same "masked NULL stays NULL" "$(q hash.db "select typeof(email) from people where id = 2")" "null"
same "md5 hex" "$(q hash.db "select code from people where id = 3")" "$(md5 C)"
same "hmac-sha256 hex, key after the second ':'" "$(q hash.db "select name from people where id = 2")" "$(hmac s3cr:et Bob)"
same "decimal hashed as its text" "$(q hash.db "select amount from people where id = 1")" "$(sha 10.50)"
same "masked columns are text" "$(q hash.db "select typeof(email) || typeof(amount) from people where id = 1")" "texttext"
same "others untouched" "$(q hash.db "select note from people where id = 3")" "x"

load "text masks" 0 text.db --mask code:redact --mask name:stars --mask email:partial:3 --mask amount:fixed
same "redact" "$(q text.db "select group_concat(code, '|') from people")" "REDACTED|REDACTED|REDACTED"
same "stars: one per character" "$(q text.db "select name from people where id = 3")" "***********"
same "partial:3" "$(q text.db "select email from people where id = 3")" "zoe*********com"
same "fixed without a value" "$(q text.db "select amount from people where id = 1")" "MASKED"
same "fixed keeps NULL" "$(q text.db "select typeof(amount) from people where id = 2")" "null"

load "trim then mask" 0 both.db --trim-whitespace --mask "name:partial:1" --mask "code:fixed:n/a"
same "trimmed before masking" "$(q both.db "select name from people where id = 1")" "A***e"
same "fixed:VALUE" "$(q both.db "select code from people where id = 1")" "n/a"
INGESTR_MASK="email:md5" load "mask from INGESTR_MASK" 0 env.db
same "env mask" "$(q env.db "select email from people where id = 3")" "$(md5 zoe@example.com)"

run "csv with masks" 0 ingest --source-uri "$U" --source-table dbo.people --dest-uri "csv://$work/m.csv" \
  --progress log --no-load-timestamp --trim-whitespace --mask email:sha256 --mask name:partial
same "csv header" "$(head -1 m.csv | tr -d '\r')" "id,name,code,email,note,amount"
same "csv row 1" "$(sed -n 2p m.csv | tr -d '\r')" "1,Al*ce,A-123,$(sha alice@example.com),first note,10.50"
same "csv NULL email" "$(sed -n 3p m.csv | cut -d, -f4)" ""

# an hmac key is a secret: not in /proc/PID/cmdline while the load runs
fault_scenario "$work/people.json" "$work/stall.json" stall_after_rows 1
port0=$port
start_server "$work/stall.json"
"$tdspipe" ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable" --source-table dbo.people \
  --dest-uri "sqlite:///$work/stall.db" --progress log --mask "name:HMAC:KeY-s3cret,code:md5" >/dev/null 2>"$work/stall.err" &
tp=$!
sleep 1.5
cmdline=$(tr '\0' ' ' </proc/$tp/cmdline)
case "$cmdline" in
  *KeY-s3cret*) bad "hmac key visible in /proc/PID/cmdline" "$cmdline" ;;
  *"name:HMAC:**********,code:md5"*) ok "hmac key hidden in /proc/PID/cmdline, the rest kept" ;;
  *) bad "cmdline after scrubbing" "$cmdline" ;;
esac
kill -TERM $tp; wait $tp
grep -q KeY-s3cret "$work/stall.err" && bad "hmac key in a message" || ok "no hmac key in messages"
port=$port0

load "mask of a missing column" 2 missing.db --mask ssn:redact
expect_err "missing column named" "--mask: the source has no column 'ssn'"
[ ! -e missing.db ] && ok "nothing created" || bad "a database was left behind"
load "unsupported algorithm" 2 alg.db --mask email:email
expect_err "unsupported algorithm named" "mask algorithm 'email' is not supported"
load "hmac without a key" 2 alg.db --mask email:hmac
expect_err "hmac key message" "requires a key"

# ---------------------------------------------- flags tdspipe refuses
refuse() { # NAME NEEDLE ARGS…
  local name=$1 needle=$2; shift 2
  load "$name" 2 refused.db "$@"
  expect_err "$name: one line naming it" "$needle"
}
refuse "--incremental-predicate without merge" "--incremental-predicate needs --incremental-strategy merge" --incremental-predicate "target.id > 1"
refuse "--incremental-predicate with --full-refresh" "--incremental-predicate cannot be combined with --full-refresh" \
  --incremental-strategy merge --incremental-predicate "target.id > 1" --full-refresh
run "--incremental-predicate from a +ct source" 2 ingest --source-uri "mssql+ct${U#mssql}" --source-table dbo.people \
  --dest-uri "sqlite:///$work/refused.db" --incremental-predicate "target.id > 1"
expect_err "+ct refused in one line" "--incremental-predicate is not supported with a +ct/+cdc source"
# --stream and its flags (tests/cli/e2e_stream.py streams for real)
refuse "--stream from a plain table" "--stream reads Change Tracking or Change Data Capture sources" --stream
refuse "--flush-interval not a duration" "--flush-interval: expected a duration" --stream --flush-interval 15x
refuse "--flush-records not a count" "--flush-records: expected a whole number" --stream --flush-records=0
refuse "--metrics-addr empty" "--metrics-addr: expected HOST:PORT" --stream --metrics-addr ""
refuse "--partition-by" "--partition-by: not supported" --partition-by id
refuse "--cluster-by" "--cluster-by: not supported" --cluster-by id
refuse "--loader-file-format" "--loader-file-format: not supported" --loader-file-format parquet
refuse "--loader-file-size" "--loader-file-size: not supported" --loader-file-size 100
# parallel reads (issue 16): implemented; bad values refused in one line (tests/cli/e2e_parallel.sh reads)
refuse "--extract-partition-interval bad" "--extract-partition-interval: expected auto, a whole number or a duration" --extract-partition-interval 7x
refuse "--extract-partition-interval alone" "--extract-partition-interval needs --extract-partition-by" --extract-partition-interval 7d
refuse "--staging-bucket" "--staging-bucket: not supported" --staging-bucket gs://b
refuse "--staging-dataset" "--staging-dataset: not supported" --staging-dataset st
refuse "--no-inference" "--no-inference: not supported" --no-inference
refuse "--disable-prestaging" "--disable-prestaging: not supported" --disable-prestaging
refuse "--debug" "--debug: not supported" --debug
refuse "--query-annotations" "--query-annotations: not supported" --query-annotations '{"a":"b"}'
INGESTR_STREAM=true refuse "INGESTR_STREAM" "--stream reads Change Tracking or Change Data Capture sources"
[ ! -e refused.db ] && ok "refusals create nothing" || bad "a refused run left a database"
load "--stream=false asks for nothing" 0 nostream.db --stream=false
STREAM=1 load "STREAM is not ingestr's variable" 0 nostream2.db

load "--sql-backend accepted with a warning" 0 backend.db --sql-backend pyarrow --pipelines-dir "$work/p"
same "one warning line each" "$(grep -c 'no effect' "$work/err")" "2"
same "loaded all the same" "$(q backend.db "select count(*) from people")" "3"
load "--schema-contract freeze parsed" 0 contract.db --schema-contract freeze
load "--schema-contract bad value" 2 contract.db --schema-contract strict
expect_err "contract values listed" "use evolve, freeze, discard_row or discard_value"

# ------------------------------------------------ --incremental-predicate
# ANDed to the merge's join: ON target.id = source.id AND (predicate). A
# target row the predicate keeps is replaced; a staged row no target row
# matches that way is inserted, so in the user's table without a key, id 2
# (whose row the predicate excludes) ends with two rows, as MERGE … WHEN
# NOT MATCHED THEN INSERT (ingestr) gives.
sqlite3 pred.db "create table people (id integer, name text, code text, email text, note text, amount numeric);
  insert into people values (1, 'stale', 'x', null, null, null), (2, 'frozen', 'y', null, null, null)"
load "merge with a predicate" 0 pred.db --incremental-strategy merge --incremental-predicate "target.name <> 'frozen'"
same "matched rows replaced, the excluded key inserted beside, new keys inserted" \
  "$(q pred.db "select id || ':' || name from people order by id, name" | tr '\n' ' ')" "1:  Alice   2:Bob 2:frozen 3:Zoë Ünicode "
INCREMENTAL_PREDICATE="target.id = 1" load "predicate from INCREMENTAL_PREDICATE" 0 pred.db --incremental-strategy merge
same "only id 1 matched: 2 and 3 inserted again" "$(q pred.db "select count(*) from people")" "6"
# in a table tdspipe made (primary key id) the second row of a key is refused: nothing changes
load "merge into a keyed table" 0 predpk.db --incremental-strategy merge
sqlite3 predpk.db "update people set name = 'frozen' where id = 2; update people set name = 'stale' where id = 1"
load "predicate excluding a keyed row" 1 predpk.db --incremental-strategy merge --incremental-predicate "target.name <> 'frozen'"
same "keyed table as it was" "$(q predpk.db "select id || ':' || name from people order by id" | tr '\n' ' ')" \
  "1:stale 2:frozen 3:Zoë Ünicode "
load "predicate over source too" 0 predpk.db --incremental-strategy merge --incremental-predicate "target.id >= 1 AND source.code <> 'zzz'"
same "every key matched: replaced" "$(q predpk.db "select id || ':' || name from people order by id" | tr '\n' ' ')" \
  "1:  Alice   2:Bob 3:Zoë Ünicode "

finish
