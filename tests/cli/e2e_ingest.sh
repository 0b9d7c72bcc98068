#!/usr/bin/env bash
# e2e_ingest.sh — `tdspipe ingest` end to end against build/tdstestd, into
# CSV, JSONL, SQLite, and (when available) PostgreSQL and DuckDB; usage
# errors and exit codes; failure in the middle of a load; secrets.
#
#   tests/cli/e2e_ingest.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_ingest "$@"

start_server "$src/tests/server/scenarios/demo.json"
P=$port
U="mssql://sa:Passw0rd%21@127.0.0.1:$P/demo?encrypt=disable"
cd "$work"

# ------------------------------------------------------- one file to ship
if ldd "$tdspipe" | grep -q libasan; then
  echo "skip ldd check: sanitizer build"
else
  extra=$(ldd "$tdspipe" | awk '{print $1}' | grep -v -E '^(linux-vdso|/lib64/ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so)' || true)
  same "only libc shared" "$extra" ""
fi

# ---------------------------------------------------------------- usage
run "version" 0 --version; same "version text" "$out" "tdspipe 0.2.0"
run "help" 0 --help
run "ingest --help" 0 ingest --help
grep -q -- "--incremental-strategy" "$work/out" && ok "ingest help lists flags" || bad "ingest help lists flags"
run "no command" 2
run "unknown command" 2 frobnicate; expect_err "unknown command message" "unknown command 'frobnicate'"
run "unknown flag" 2 ingest --source-uri "$U" --source-table t --dest-uri csv://x.csv --frob; expect_err "unknown flag message" "unknown flag '--frob'"
run "missing source uri" 2 ingest --source-table t --dest-uri csv://x.csv; expect_err "missing source message" "--source-uri is required"
run "missing table" 2 ingest --source-uri "$U" --dest-uri csv://x.csv; expect_err "missing table message" "--source-table is required"
run "bad strategy" 2 ingest --source-uri "$U" --source-table t --dest-uri csv://x.csv --incremental-strategy upsert
run "bad columns type" 2 ingest --source-uri "$U" --source-table t --dest-uri csv://x.csv --columns id:blob; expect_err "bad columns message" "unknown column type"
run "bad source scheme" 2 ingest --source-uri "mysql://u:SECRETPW@h/db" --source-table t --dest-uri csv://x.csv
expect_err "bad scheme message" "unsupported source scheme 'mysql'"
grep -q SECRETPW "$work/err" && bad "bad scheme leaks password" || ok "bad scheme hides password"
run "bad dest scheme" 2 ingest --source-uri "$U" --source-table t --dest-uri bigquery://p/d; expect_err "bad dest message" "unsupported destination scheme"
run "ct with --sql-limit" 2 ingest --source-uri "mssql+ct://sa:x@127.0.0.1:$P/demo" --source-table t --dest-uri csv://x.csv --sql-limit 5; expect_err "ct message" "--sql-limit cannot be used with Change Tracking"
run "mssql+ct is no destination" 2 ingest --source-uri "$U" --source-table t --dest-uri "mssql+ct://sa:x@h/db"
run "bad encrypt" 2 ingest --source-uri "$U&encrypt=sometimes" --source-table t --dest-uri csv://x.csv
run "bad sql-limit" 2 ingest --source-uri "$U" --source-table t --dest-uri csv://x.csv --sql-limit=-1
run "query without dest table" 2 ingest --source-uri "$U" --source-table "query:SELECT 1 AS x" --dest-uri csv://x.csv
run "merge into csv" 2 ingest --source-uri "$U" --source-table dbo.customers --dest-uri csv://m.csv --incremental-strategy merge --progress log
[ ! -e m.csv ] && ok "merge into csv wrote nothing" || bad "merge into csv wrote a file"
SOURCE_URI="$U" INGESTR_DESTINATION_URI=csv://env.csv SOURCE_TABLE=dbo.customers run "env forms" 0 ingest --progress log
[ "$(wc -l <env.csv)" = 4 ] && ok "env forms loaded" || bad "env forms loaded"

# --------------------------------------------------------------- CSV
run "csv customers" 0 ingest --source-uri "$U" --source-table dbo.customers --dest-uri csv://c.csv --progress log
same "csv header" "$(head -1 c.csv | tr -d '\r')" "id,name,email,created,_ingestr_loaded_at"
same "csv row 1" "$(sed -n 2p c.csv | cut -d, -f1-4)" "1,Ada Lovelace,ada@example.com,2024-01-15 09:30:00.000"
same "csv null email" "$(sed -n 3p c.csv | cut -d, -f3)" ""
same "csv unicode" "$(sed -n 4p c.csv | cut -d, -f2)" "Zoë Ünicode 😀"
same "stdout clean" "$out" ""
run "csv no timestamp, direct names, exclude" 0 ingest --source-uri "$U" --source-table "[dbo].[customers]" \
  --dest-uri csv://c2.csv --no-load-timestamp --sql-exclude-columns email --schema-naming direct --progress log
same "csv exclude header" "$(head -1 c2.csv | tr -d '\r')" "id,name,created"
run "csv columns cast+rename" 0 ingest --source-uri "$U" --source-table demo.dbo.customers \
  --dest-uri csv://c3.csv --no-load-timestamp --columns "id:text,mail::email" --progress log
same "csv columns header" "$(head -1 c3.csv | tr -d '\r')" "id,name,mail,created"
run "csv sql-limit" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri csv://l.csv --sql-limit 5 --page-size 2 --progress log
same "csv sql-limit rows" "$(($(wc -l <l.csv) - 1))" 5
run "csv query source" 0 ingest --source-uri "$U" --source-table "query:SELECT id, name FROM dbo.customers WHERE id >= 2" \
  --dest-table q --dest-uri csv://q.csv --no-load-timestamp --progress log
same "csv query rows" "$(tr -d '\r' <q.csv | tr '\n' '|')" "id,name|2,Grace Hopper|3,Zoë Ünicode 😀|"
run "csv query limit" 0 ingest --source-uri "$U" --source-table "query:SELECT order_id FROM sales.orders" \
  --dest-table q --dest-uri csv://ql.csv --sql-limit 7 --no-load-timestamp --progress log
same "csv query limit rows" "$(($(wc -l <ql.csv) - 1))" 7
run "missing source table" 1 ingest --source-uri "$U" --source-table dbo.nope --dest-uri csv://n.csv --progress log
expect_err "missing table message" "does not exist"
[ ! -e n.csv ] && ok "missing table wrote nothing" || bad "missing table wrote a file"

if command -v script >/dev/null; then
  script -qec "'$tdspipe' ingest --source-uri '$U' --source-table sales.orders --dest-uri discard:// --page-size 10" "$work/tty.log" >/dev/null 2>&1
  rc=$?
  same "interactive on a terminal exits 0" "$rc" 0
  grep -q "loaded 1000 rows" "$work/tty.log" && ok "interactive final line" || bad "interactive final line" "$(tr '\r' '\n' <"$work/tty.log" | tail -3)"
fi

# ------------------------------------------------------------- JSONL
run "jsonl.gz orders" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri jsonl://o.jsonl.gz --progress json --page-size 64
same "jsonl rows" "$(zcat o.jsonl.gz | wc -l)" 1000
same "jsonl decimal exact" "$(zcat o.jsonl.gz | head -1 | grep -o '"amount":"1.00"')" '"amount":"1.00"'
grep -q '"event":"done"' "$work/err" && ok "json progress" || bad "json progress" "$err"

# ------------------------------------------------------------- SQLite
q() { sqlite3 "$1" "$2" 2>&1; }
run "sqlite replace" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///s.db --progress log
same "sqlite replace count" "$(q s.db 'select count(*) from orders')" 1000
run "sqlite replace again" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///s.db --sql-limit 10 --progress log
same "sqlite replace swaps" "$(q s.db 'select count(*) from orders')" 10
run "sqlite append resume" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///s.db \
  --incremental-strategy append --incremental-key order_id --sql-limit 5 --progress log
same "sqlite append no duplicates" "$(q s.db 'select count(*), count(distinct order_id), max(order_id) from orders')" "15|15|15"
run "sqlite merge resume" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///s.db \
  --incremental-strategy merge --incremental-key order_id --sql-limit 5 --progress log
same "sqlite merge" "$(q s.db 'select count(*), max(order_id) from orders')" "19|19"
run "sqlite delete+insert window" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///s.db \
  --incremental-strategy delete+insert --incremental-key order_id --interval-start 3 --interval-end 6 --progress log
same "sqlite delete+insert" "$(q s.db 'select count(*), min(order_id), max(order_id) from orders')" "19|1|19"
run "sqlite interval datetime" 0 ingest --source-uri "$U" --source-table dbo.customers --dest-uri sqlite:///d.db \
  --incremental-strategy append --incremental-key created --interval-start 2024-01-20 --interval-end "2024-03-01T00:00:00Z" --progress log
same "sqlite interval rows" "$(q d.db 'select group_concat(id) from customers')" "2"
run "sqlite full refresh" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///s.db \
  --incremental-strategy merge --incremental-key order_id --full-refresh --progress log
same "sqlite full refresh count" "$(q s.db 'select count(*) from orders')" 1000
run "exclude the key (replace)" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///x.db \
  --sql-exclude-columns order_id --sql-limit 3 --progress log
run "exclude the key (merge)" 2 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///x.db \
  --sql-exclude-columns order_id --incremental-strategy merge --progress log
run "renamed key resumes" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///r.db --dest-table r \
  --columns "oid::order_id" --primary-key order_id --incremental-strategy merge --incremental-key order_id --sql-limit 4 --progress log
run "renamed key resumes again" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///r.db --dest-table r \
  --columns "oid::order_id" --primary-key order_id --incremental-strategy merge --incremental-key order_id --sql-limit 4 --progress log
same "renamed key rows" "$(q r.db 'select count(*), max(oid) from r')" "7|7"
run "merge without key" 2 ingest --source-uri "$U" --source-table "query:SELECT name FROM dbo.customers" --dest-table nk \
  --dest-uri sqlite:///s.db --incremental-strategy merge --progress log
run "query incremental append needs placeholder" 2 ingest --source-uri "$U" --source-table "query:SELECT order_id FROM sales.orders" \
  --dest-table qi --dest-uri sqlite:///qi.db --incremental-strategy append --incremental-key order_id --interval-start 5 --progress log
expect_err "placeholder message" ":interval_start"
run "query incremental with placeholders" 0 ingest --source-uri "$U" \
  --source-table "query:SELECT order_id FROM sales.orders WHERE order_id >= :interval_start AND order_id < :interval_end" \
  --dest-table qi --dest-uri sqlite:///qi.db --incremental-strategy append --incremental-key order_id --interval-start 5 --interval-end 9 --progress log
same "query incremental rows" "$(q qi.db 'select count(*), min(order_id), max(order_id) from qi')" "4|5|8"
run "bad interval" 2 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///s.db \
  --incremental-strategy append --incremental-key order_id --interval-start yesterday --progress log

# ------------------------------------------------- every type, every sink
start_server "$src/tests/server/scenarios/alltypes.json"
A="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
run "alltypes csv" 0 ingest --source-uri "$A" --source-table alltypes --dest-uri csv://at.csv --progress log
same "alltypes csv rows" "$(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open("at.csv", newline=""))) - 1)')" 23
same "alltypes csv row 1" "$(python3 -c 'import csv; r=list(csv.reader(open("at.csv", newline="")))[1]; print("|".join(r[:20]))')" \
  "1|1|1|1|1|1|0.25|0.25|0.0100|0.0100|0.0000000001|0.01|2020-01-01 01:02:00|2020-01-01 01:02:03.123|2020-01-02|01:02:03.1234567|2020-01-01 01:02:03.1234567|2020-01-01 01:02:03|2020-01-01 01:02:03.1234567 -13:30|00000001-0000-4000-8000-000000000001"
run "alltypes jsonl" 0 ingest --source-uri "$A" --source-table alltypes --dest-uri jsonl://at.jsonl --progress log
same "alltypes jsonl rows" "$(python3 -c 'import json; print(sum(1 for l in open("at.jsonl") if json.loads(l)))')" 23
run "alltypes sqlite" 0 ingest --source-uri "$A" --source-table alltypes --dest-uri sqlite:///at.db --progress log
same "alltypes sqlite rows" "$(sqlite3 at.db 'select count(*), sum(c_int) from alltypes')" \
  "$(python3 -c 'import csv; r=list(csv.reader(open("at.csv", newline="")))[1:]; print("23|%d" % sum(int(x[4]) for x in r if x[4]))')"

# a (max) value larger than the engine's 64 MiB row buffer streams through
cat >"$work/big.json" <<'JSON'
{ "logins": [ { "user": "sa", "password": "Passw0rd!", "database": "b" } ],
  "databases": [ { "name": "b", "tables": [ { "schema": "dbo", "name": "big", "rows": 1,
     "columns": [ { "name": "id", "type": "int", "nullable": false },
                  { "name": "v", "type": "varchar(max)", "gen": { "width": 70000000 } } ] } ] } ] }
JSON
start_server "$work/big.json"
run "70 MB (max) value" 0 ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$port/b?encrypt=disable" --source-table big \
  --dest-uri csv://big.csv --no-load-timestamp --progress log
same "70 MB value size" "$(stat -c %s big.csv)" $((5 + 2 + 70000000 + 1)) # "id,v\n" "1," value "\n"
rm -f big.csv

# ------------------------------------------------- connection failures
run "wrong password" 1 ingest --source-uri "mssql://sa:WrongPw123@127.0.0.1:$P/demo?encrypt=disable" --source-table dbo.customers --dest-uri csv://w.csv --progress log
expect_err "wrong password message" "Login failed"
grep -q WrongPw123 "$work/err" && bad "wrong password leaked" || ok "wrong password not shown"
run "unreachable host" 1 ingest --source-uri "mssql://sa:x@127.0.0.1:1/demo?encrypt=disable&connection+timeout=3" --source-table dbo.customers --dest-uri csv://w.csv --progress log
[ ! -e w.csv ] && ok "failed connect wrote nothing" || bad "failed connect wrote a file"
run "sqlite new file, failed load" 1 ingest --source-uri "$U" --source-table sales.orders --dest-uri sqlite:///fresh.db --columns "note:int" --progress log
ls fresh.db* >/dev/null 2>&1 && bad "failed load left a new sqlite file" || ok "failed load left no sqlite file"
run "unwritable destination" 1 ingest --source-uri "$U" --source-table dbo.customers --dest-uri csv:///dev/null/x.csv --progress log

# --------------------------------------------- failure in the middle
fault_scenario "$src/tests/server/scenarios/demo.json" "$work/fault.json" close_after_rows 500
start_server "$work/fault.json"
F="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"
cp c.csv before.csv
run "csv drop mid-load" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri csv://c.csv --page-size 100 --progress log
cmp -s c.csv before.csv && ok "csv unchanged after drop" || bad "csv changed after drop"
ls .c.csv* c.csv.* 2>/dev/null | grep -q . && bad "csv temp file left" || ok "csv no temp file left"
run "sqlite drop mid-load (replace)" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri sqlite:///s.db --page-size 100 --progress log
same "sqlite unchanged after drop (replace)" "$(q s.db 'select count(*) from orders')" 1000
run "sqlite drop mid-load (append)" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri sqlite:///s.db --page-size 100 \
  --incremental-strategy append --progress log
same "sqlite unchanged after drop (append)" "$(q s.db 'select count(*) from orders')" 1000
for st in merge delete+insert; do
  run "sqlite drop mid-load ($st)" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri sqlite:///s.db --page-size 100 \
    --incremental-strategy "$st" --incremental-key order_id --interval-start 1 --progress log
  same "sqlite unchanged after drop ($st)" "$(q s.db 'select count(*), sum(order_id) from orders')" "1000|500500"
done
run "csv append drop mid-load" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri csv://c.csv --page-size 100 \
  --incremental-strategy append --progress log
cmp -s c.csv before.csv && ok "csv unchanged after append drop" || bad "csv changed after append drop"
run "jsonl drop mid-load" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri jsonl://o.jsonl.gz --page-size 100 --progress log
same "jsonl unchanged after drop" "$(zcat o.jsonl.gz | wc -l)" 1000

# ------------------------------------------------ token login and TLS
run "access token login" 0 ingest --source-uri "mssql://:eyJhbGciOi.a-token@127.0.0.1:$P/demo?encrypt=disable&Authentication=ActiveDirectoryAccessToken" \
  --source-table dbo.customers --dest-uri csv://tok.csv --progress log
same "access token rows" "$(($(wc -l <tok.csv) - 1))" 3
if command -v openssl >/dev/null && sh "$src/tests/server/certs.sh" "$work/certs" >/dev/null 2>&1; then
  start_server "$src/tests/server/scenarios/demo.json" --tls-cert "$work/certs/server.pem" \
    --tls-key "$work/certs/server.key" --tls-mode required
  T=$port
  run "tls trusted by flag" 0 ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$T/demo?encrypt=yes&TrustServerCertificate=yes" \
    --source-table dbo.customers --dest-uri csv://tls.csv --progress log
  run "tls untrusted" 1 ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$T/demo?encrypt=true&TrustServerCertificate=no" \
    --source-table dbo.customers --dest-uri csv://tls2.csv --progress log
  run "tls ca file + HostNameInCertificate" 0 ingest --source-uri "sqlserver://sa:Passw0rd%21@127.0.0.1:$T/demo?encrypt=mandatory&ServerCertificate=$work/certs/ca.pem&HostNameInCertificate=localhost" \
    --source-table dbo.customers --dest-uri csv://tls3.csv --progress log
  run "encrypt=disable refused by a TLS-only server" 1 ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$T/demo?encrypt=disable" \
    --source-table dbo.customers --dest-uri csv://tls4.csv --progress log
else
  echo "skip TLS: no openssl"
fi

for fault in error_after_rows malformed_after_rows; do
  fault_scenario "$src/tests/server/scenarios/demo.json" "$work/$fault.json" "$fault" 300
  start_server "$work/$fault.json"
  run "sqlite $fault" 1 ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable" --source-table sales.orders \
    --dest-uri sqlite:///s.db --page-size 100 --progress log
  same "sqlite unchanged after $fault" "$(q s.db 'select count(*), sum(order_id) from orders')" "1000|500500"
done
grep -q "injected error" "$work/err" 2>/dev/null || true

# ---------------------------------------------- secrets in /proc/cmdline
fault_scenario "$src/tests/server/scenarios/demo.json" "$work/stall.json" stall_after_rows 5
start_server "$work/stall.json"
"$tdspipe" ingest --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable" --source-table sales.orders \
  --dest-uri csv://stall.csv --progress log >/dev/null 2>"$work/stall.err" &
tp=$!
sleep 1.5
if tr '\0' ' ' </proc/$tp/cmdline | grep -q 'Passw0rd'; then bad "password visible in /proc/PID/cmdline" "$(tr '\0' ' ' </proc/$tp/cmdline)"
else ok "password hidden in /proc/PID/cmdline"; fi
kill -TERM $tp; wait $tp; rc=$?
same "interrupted load exits 1" "$rc" 1
[ ! -e stall.csv ] && ok "interrupted load wrote nothing" || bad "interrupted load wrote a file"

SOURCE_URI="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable" "$tdspipe" ingest --source-table sales.orders \
  --dest-uri csv://stall2.csv --progress log >/dev/null 2>&1 &
tp=$!
sleep 1.5
if tr '\0' '\n' </proc/$tp/environ | grep -q 'Passw0rd'; then bad "password visible in /proc/PID/environ"
else ok "password hidden in /proc/PID/environ"; fi
kill -INT $tp; wait $tp; rc=$?
same "SIGINT load exits 1" "$rc" 1

# ----------------------------------------------------------- PostgreSQL
if [ -x "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -1)" ] && command -v psql >/dev/null; then
  pgdir=$(mktemp -d /tmp/tdspipe-pg.XXXXXX)
  if pgport=$(bash "$src/tests/sink/pg_server.sh" start "$pgdir" 2>"$work/pg.err"); then
    PG="postgresql://postgres@127.0.0.1:$pgport/postgres"
    run "postgres replace" 0 ingest --source-uri "$U" --source-table dbo.customers --dest-uri "$PG" --progress log
    same "postgres rows" "$(psql "$PG" -Atc 'select id, name, email is null from dbo.customers order by id' | tr '\n' '|')" \
      "1|Ada Lovelace|f|2|Grace Hopper|t|3|Zoë Ünicode 😀|f|"
    run "postgres merge orders" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri "$PG" \
      --incremental-strategy merge --incremental-key order_id --sql-limit 100 --progress log
    run "postgres merge resume" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri "$PG" \
      --incremental-strategy merge --incremental-key order_id --sql-limit 100 --progress log
    same "postgres merge count" "$(psql "$PG" -Atc 'select count(*), max(order_id) from sales.orders')" "199|199"
    run "postgres drop mid-load" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri "$PG" --page-size 100 --progress log
    same "postgres unchanged after drop" "$(psql "$PG" -Atc 'select count(*) from sales.orders')" 199
    for st in append merge delete+insert; do
      run "postgres drop mid-load ($st)" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri "$PG" --page-size 100 \
        --incremental-strategy "$st" --incremental-key order_id --interval-start 1 --progress log
      same "postgres unchanged after drop ($st)" "$(psql "$PG" -Atc 'select count(*), sum(order_id) from sales.orders')" "199|19900"
    done
  else
    echo "skip PostgreSQL: $(head -3 "$work/pg.err")"
  fi
else
  echo "skip PostgreSQL: not installed"
fi

# --------------------------------------------------------------- DuckDB
duck=${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}
if [ -s "$duck" ]; then
  duckq() { python3 - "$duck" "$1" "$2" <<'PY'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
db = ctypes.c_void_p(); con = ctypes.c_void_p()
assert lib.duckdb_open(sys.argv[2].encode(), ctypes.byref(db)) == 0
assert lib.duckdb_connect(db, ctypes.byref(con)) == 0
res = (ctypes.c_byte * 64)()
if lib.duckdb_query(con, sys.argv[3].encode(), ctypes.byref(res)) != 0:
    lib.duckdb_result_error.restype = ctypes.c_char_p
    print("ERROR", lib.duckdb_result_error(ctypes.byref(res))); sys.exit(0)
lib.duckdb_row_count.restype = ctypes.c_uint64
lib.duckdb_column_count.restype = ctypes.c_uint64
lib.duckdb_value_varchar.restype = ctypes.c_void_p
rows = []
for r in range(lib.duckdb_row_count(ctypes.byref(res))):
    vals = []
    for c in range(lib.duckdb_column_count(ctypes.byref(res))):
        p = lib.duckdb_value_varchar(ctypes.byref(res), ctypes.c_uint64(c), ctypes.c_uint64(r))
        vals.append(ctypes.string_at(p).decode() if p else "NULL")
        if p: lib.duckdb_free(ctypes.c_void_p(p))
    rows.append(",".join(vals))
print("|".join(rows))
lib.duckdb_destroy_result(ctypes.byref(res))
lib.duckdb_disconnect(ctypes.byref(con)); lib.duckdb_close(ctypes.byref(db))
PY
  }
  export TDSPIPE_DUCKDB_LIB=$duck
  run "duckdb replace" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri duckdb:///o.duckdb --progress log
  same "duckdb rows" "$(duckq o.duckdb 'select count(*), sum(order_id) from sales.orders')" "1000,500500"
  same "duckdb types" "$(duckq o.duckdb "select typeof(amount), typeof(placed_at) from sales.orders limit 1")" "DECIMAL(12,2),TIMESTAMP_NS"
  run "duckdb drop mid-load" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri duckdb:///o.duckdb --page-size 100 --progress log
  same "duckdb unchanged after drop" "$(duckq o.duckdb 'select count(*) from sales.orders')" "1000"
  for st in merge delete+insert; do
    run "duckdb $st" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri duckdb:///o.duckdb --page-size 100 \
      --incremental-strategy "$st" --incremental-key order_id --interval-start 991 --progress log
    run "duckdb drop mid-load ($st)" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri duckdb:///o.duckdb --page-size 100 \
      --incremental-strategy "$st" --incremental-key order_id --interval-start 1 --progress log
  done
  same "duckdb strategies" "$(duckq o.duckdb 'select count(*), count(distinct order_id) from sales.orders')" "1000,1000"
  run "duckdb append" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri duckdb:///o.duckdb --dest-table sales.app \
    --incremental-strategy append --incremental-key order_id --sql-limit 600 --progress log
  run "duckdb append resume" 0 ingest --source-uri "$U" --source-table sales.orders --dest-uri duckdb:///o.duckdb --dest-table sales.app \
    --incremental-strategy append --incremental-key order_id --progress log
  run "duckdb drop mid-load (append)" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri duckdb:///o.duckdb \
    --dest-table sales.app --incremental-strategy append --page-size 100 --progress log
  same "duckdb append rows" "$(duckq o.duckdb 'select count(*), count(distinct order_id) from sales.app')" "1000,1000"
  run "duckdb new file, failed load" 1 ingest --source-uri "$F" --source-table sales.orders --dest-uri duckdb:///fresh.duckdb --progress log
  ls fresh.duckdb* >/dev/null 2>&1 && bad "failed load left a new duckdb file" || ok "failed load left no duckdb file"
  run "duckdb customers" 0 ingest --source-uri "$U" --source-table dbo.customers --dest-uri duckdb:///o.duckdb --progress log
  same "duckdb customers" "$(duckq o.duckdb 'select id, name, email from dbo.customers order by id')" \
    "1,Ada Lovelace,ada@example.com|2,Grace Hopper,NULL|3,Zoë Ünicode 😀,zoe@example.com"
else
  echo "skip DuckDB: no libduckdb.so (scripts/get_duckdb.sh)"
fi

finish
