#!/usr/bin/env bash
# e2e_file_source.sh — CSV and JSONL files (plain and gzip) as sources of
# `tdspipe ingest`, into SQL Server (build/tdstestd, bulk load) and into
# CSV: header names, inferred types, --columns types and renames, NULLs,
# bad data past the sample (one line naming file, line and column; the
# destination unchanged), strategies, the default target name. The
# sources are pipe/src_file.c's (pipe_src_csv, pipe_src_jsonl).
#
#   tests/cli/e2e_file_source.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_file_source "$@"

start_server "$src/tests/server/scenarios/alltypes.json"
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
cd "$work"

read_back() { # QUERY → stdout as CSV
  rm -f rb.csv
  "$tdspipe" ingest --source-uri "$U" --source-table "query:$1" --dest-uri csv://rb.csv --dest-table x \
    --no-load-timestamp >/dev/null 2>&1 && tr -d "\r" <rb.csv
}

cat >people.csv <<'EOF'
id,name,score,joined,active,seen_at,note
1,Ann,1.5,2024-01-02,true,2024-01-02T03:04:05Z,"comma, inside"
2,Bob,,2024-02-29,false,2024-01-02 03:04:05+02:00,"quote ""q"""
3,"Ünï",-7,,,2024-03-01T00:00:00Z,
4,Dee,2000.0,2024-12-31,TRUE,2024-03-01T00:00:00.1234567Z,""
EOF
gzip -k people.csv

# ------------------------------------------------ CSV → SQL Server
run "csv into SQL Server" 0 ingest --source-uri csv://people.csv --source-table people --dest-uri "$U" \
  --dest-table dbo.people --primary-key id --no-load-timestamp
same "inferred types" "$(read_back "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'people' ORDER BY ORDINAL_POSITION")" \
"column_name,data_type,is_nullable
id,bigint,NO
name,nvarchar,YES
score,float,YES
joined,date,YES
active,bit,YES
seen_at,datetimeoffset,YES
note,nvarchar,YES"
want_rows='id,name,score,joined,active,seen_at,note
1,Ann,1.5,2024-01-02,1,2024-01-02 03:04:05.0000000 +00:00,"comma, inside"
2,Bob,,2024-02-29,0,2024-01-02 03:04:05.0000000 +02:00,"quote ""q"""
3,Ünï,-7,,,2024-03-01 00:00:00.0000000 +00:00,
4,Dee,2000,2024-12-31,1,2024-03-01 00:00:00.1234567 +00:00,""'
same "values, NULLs and empty strings" "$(read_back "SELECT * FROM people ORDER BY id")" "$want_rows"
same "primary key from --primary-key" \
  "$(read_back "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE WHERE TABLE_NAME = 'people'")" \
  "column_name
id"

run "csv.gz, replace" 0 ingest --source-uri csv://people.csv.gz --source-table people --dest-uri "$U" \
  --dest-table dbo.people --primary-key id --no-load-timestamp --incremental-strategy replace
same "gzip gives the same rows" "$(read_back "SELECT * FROM people ORDER BY id")" "$want_rows"
run "csv merge" 0 ingest --source-uri csv://people.csv --source-table people --dest-uri "$U" \
  --dest-table dbo.people --primary-key id --no-load-timestamp --incremental-strategy merge \
  --sql-exclude-columns note
same "merge keeps one row per key" "$(read_back "SELECT COUNT(*) AS n FROM people")" "n
4"

# no --dest-table: the target is --source-table's name (dbo.<name>)
run "default target from --source-table" 0 ingest --source-uri csv://people.csv --source-table people_default \
  --dest-uri "$U" --no-load-timestamp
same "rows in dbo.people_default" "$(read_back "SELECT COUNT(*) AS n FROM dbo.people_default")" "n
4"

# --columns: a type and a rename
run "--columns type and rename" 0 ingest --source-uri csv://people.csv --source-table people --dest-uri "$U" \
  --dest-table dbo.people2 --no-load-timestamp --columns "id:int" --columns "points:decimal(10,2):score" \
  --columns "name:varchar(20)"
same "declared types" "$(read_back "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, CHARACTER_MAXIMUM_LENGTH FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'people2' ORDER BY ORDINAL_POSITION")" \
"column_name,data_type,numeric_precision,character_maximum_length
id,int,10,
name,nvarchar,,20
points,decimal,10,
joined,date,,
active,bit,,
seen_at,datetimeoffset,,
note,nvarchar,,-1"
same "declared values" "$(read_back "SELECT id, points FROM people2 ORDER BY id")" "id,points
1,1.50
2,
3,-7.00
4,2000.00"

# a text key is capped to what an index holds
run "text primary key" 0 ingest --source-uri csv://people.csv --source-table people --dest-uri "$U" \
  --dest-table dbo.people3 --primary-key name --no-load-timestamp
same "key column nvarchar(450) NOT NULL, others (max)" "$(read_back "SELECT COLUMN_NAME, CHARACTER_MAXIMUM_LENGTH, IS_NULLABLE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'people3' AND DATA_TYPE = 'nvarchar' ORDER BY ORDINAL_POSITION")" \
"column_name,character_maximum_length,is_nullable
name,450,NO
note,-1,YES"

# ------------------------------------------------ bad data past the sample
{
  echo "id,v"
  for i in $(seq 1 1000); do echo "$i,$i"; done
  echo "1001,oops"
} >late.csv
run "first load of late.csv's rows" 0 ingest --source-uri csv://people.csv --source-table p --dest-uri "$U" \
  --dest-table dbo.late --no-load-timestamp --sql-exclude-columns note
before=$(read_back "SELECT COUNT(*) AS n FROM late")
run "a value past the sample that does not fit" 1 ingest --source-uri csv://late.csv --source-table late \
  --dest-uri "$U" --dest-table dbo.late --no-load-timestamp --incremental-strategy replace
if grep -q "late.csv record at line 1002, column 'v'" "$work/err" && grep -q -- "--columns v:string" "$work/err" &&
   [ "$(grep -c '' "$work/err")" = 1 ]; then ok "message names file, line, column and the fix"
else bad "message names file, line, column" "$(cat "$work/err")"; fi
same "destination unchanged" "$(read_back "SELECT COUNT(*) AS n FROM late")" "$before"
run "--columns fixes it" 0 ingest --source-uri csv://late.csv --source-table late --dest-uri "$U" \
  --dest-table dbo.late --no-load-timestamp --incremental-strategy replace --columns v:string
same "all rows" "$(read_back "SELECT COUNT(*) AS n FROM late")" "n
1001"

printf 'a,b\n1,2,3\n' >ragged.csv
run "ragged record" 1 ingest --source-uri csv://ragged.csv --source-table r --dest-uri csv://r.csv --no-load-timestamp --dest-table r
grep -q "3 fields, the header has 2" "$work/err" && ok "ragged message" || bad "ragged message" "$(cat "$work/err")"
[ ! -e r.csv ] && ok "no output file after a failed load" || bad "output file left behind"
run "missing file" 1 ingest --source-uri csv://nope.csv --source-table r --dest-uri csv://r.csv --dest-table r
grep -q "cannot open nope.csv" "$work/err" && ok "missing file message" || bad "missing file message" "$(cat "$work/err")"
run "--columns names a column the file lacks" 1 ingest --source-uri csv://people.csv --source-table p \
  --dest-uri csv://r.csv --dest-table r --columns nope:int
grep -q "has no column 'nope'" "$work/err" && ok "unknown column message" || bad "unknown column message" "$(cat "$work/err")"

# ------------------------------------------------------------ JSONL
cat >events.jsonl <<'EOF'
{"id": 1, "kind": "click", "at": "2024-05-01T10:00:00Z", "meta": {"x": 1}, "ok": true, "n": 3}
{"id": 2, "kind": "view", "at": "2024-05-01T11:00:00+02:00", "ok": false, "n": 2.5}

{"id": 3, "kind": null, "extra": "late key", "at": "2024-05-02T00:00:00Z"}
EOF
gzip -k events.jsonl
for f in events.jsonl events.jsonl.gz; do
  run "jsonl ($f) into SQL Server" 0 ingest --source-uri "jsonl://$f" --source-table events --dest-uri "$U" \
    --dest-table dbo.events --no-load-timestamp --incremental-strategy replace --primary-key id
  same "jsonl columns and types ($f)" "$(read_back "SELECT COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'events' ORDER BY ORDINAL_POSITION")" \
"column_name,data_type
id,bigint
kind,nvarchar
at,datetimeoffset
meta,nvarchar
ok,bit
n,float
extra,nvarchar"
  same "jsonl values ($f)" "$(read_back "SELECT * FROM events ORDER BY id")" \
'id,kind,at,meta,ok,n,extra
1,click,2024-05-01 10:00:00.0000000 +00:00,"{""x"":1}",1,3,
2,view,2024-05-01 11:00:00.0000000 +02:00,,0,2.5,
3,,2024-05-02 00:00:00.0000000 +00:00,,,,late key'
done
printf '{"id": 1}\nnot json\n' >bad.jsonl
run "invalid JSONL line" 1 ingest --source-uri jsonl://bad.jsonl --source-table b --dest-uri csv://b.csv --dest-table b
grep -q "bad.jsonl line 2: invalid JSON" "$work/err" && ok "invalid JSON message" || bad "invalid JSON message" "$(cat "$work/err")"

finish
