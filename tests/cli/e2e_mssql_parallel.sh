#!/usr/bin/env bash
# e2e_mssql_parallel.sh — the SQL Server destination's parallel bulk
# writers (bulk_writers=K, sink/mssql_parallel.c) end to end against
# build/tdstestd: K = 1, 4, 12 load every row exactly once for replace
# (with and without a key), append, merge and delete+insert; K sessions really send
# INSERT BULK (tdstestd --verbose); every type of alltypes round-trips
# through 4 writers; a writer whose connection drops in mid-load fails the
# load with one line and leaves the destination as it was, with no stage
# left behind; SIGINT stops the writers the same way; a bad bulk_writers
# is refused.
#
#   tests/cli/e2e_mssql_parallel.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_mssql_parallel "$@"

# start NAME SCENARIO [flags…]: lib.sh's start_server; its log also as $work/NAME.err
start() {
  local name=$1; shift
  start_server "$@"
  ln -sf "$srv_err" "$work/$name.err"
}
ROWS=30000
export TDSTESTD_ROWS_NARROW=$ROWS
start srv "$src/tests/server/scenarios/narrow.json" --verbose
N="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"
start types "$src/tests/server/scenarios/alltypes.json"
T="mssql://sa:Passw0rd%21@127.0.0.1:$port/types?encrypt=disable"
# every connection of this one drops at its 4000th bulk row
python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); d["faults"] = {"close_after_rows": 4000}
json.dump(d, open(sys.argv[2], "w"))' "$src/tests/server/scenarios/narrow.json" "$work/faulty.json"
start faulty "$work/faulty.json"
F="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"
cd "$work"

# q_csv URI QUERY FILE: the query's rows as CSV
q_csv() {
  rm -f "$3"
  "$tdspipe" ingest --source-uri "$1" --source-table "query:$2" --dest-uri "csv://$3" --dest-table x \
    --no-load-timestamp >/dev/null 2>"$work/csv.err" || echo "(q_csv failed: $(cat "$work/csv.err"))" >"$3"
}
same_file() { if ! grep -q "q_csv failed" "$2" && cmp -s "$2" "$3"; then ok "$1"; else bad "$1" "$(diff "$2" "$3" | head -6 | cut -c1-200)"; fi; }
# into URI TABLE STRATEGY K [flags…]: narrow's rows in pages of 1000
into() {
  local u=$1 t=$2 st=$3 k=$4; shift 4
  "$tdspipe" ingest --source-uri "$N" --source-table dbo.narrow --dest-uri "$u&bulk_writers=$k" --dest-table "dbo.$t" \
    --incremental-strategy "$st" --no-load-timestamp --page-size 1000 --extract-parallelism 1 "$@" \
    >"$work/out" 2>"$work/err"
}
# sessions TABLE: how many connections sent INSERT BULK into TABLE's stage
sessions() {
  grep "batch: INSERT BULK \[dbo\]\.\[_tdspipe_bulk_$1\]" "$work/srv.err" | sed 's/.*conn \([0-9]*\):.*/\1/' |
    sort -u | grep -c .
}

q_csv "$N" "SELECT * FROM narrow ORDER BY id" src.csv
[ "$(grep -c '' src.csv)" = $((ROWS + 1)) ] && ok "source has $ROWS rows" || bad "source rows" "$(head -2 src.csv)"
q_csv "$N" "SELECT * FROM narrow WHERE id <= 12000 ORDER BY id" part.csv

for k in 1 4 12; do
  # replace (the source's key: the keyed target gets the stage's rows), twice
  into "$N" "r$k" replace "$k" && into "$N" "r$k" replace "$k" && ok "K=$k replace twice" ||
    bad "K=$k replace" "$(cat err)"
  q_csv "$N" "SELECT * FROM r$k ORDER BY id" "r$k.csv"; same_file "K=$k replace: every row once" src.csv "r$k.csv"
  q_csv "$N" "SELECT CONSTRAINT_TYPE FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS WHERE TABLE_NAME = 'r$k'" "r$k.pk"
  grep -q 'PRIMARY KEY' "r$k.pk" && ok "K=$k replace keeps the key" || bad "K=$k replace key" "$(cat "r$k.pk")"
  # K > 1: the copy into the keyed table this load created takes one table
  # lock (SQL Server logs it minimally); an append into a live table does
  # not. (K = 1 loads a keyed stage and renames it: no copy.)
  [ "$k" = 1 ] || { grep -q "batch: .*INSERT INTO \[dbo\]\.\[r$k\] WITH (TABLOCK) (" "$work/srv.err" &&
    ok "K=$k replace: the keyed copy is INSERT … WITH (TABLOCK)" || bad "K=$k replace: no TABLOCK on the keyed copy"; }
  # replace without a key: the heap stage is renamed
  "$tdspipe" ingest --source-uri "$N" --source-table "query:SELECT * FROM narrow" --dest-uri "$N&bulk_writers=$k" \
    --dest-table "dbo.h$k" --no-load-timestamp --page-size 1000 >out 2>err && ok "K=$k replace, no key" ||
    bad "K=$k replace, no key" "$(cat err)"
  q_csv "$N" "SELECT * FROM h$k ORDER BY id" "h$k.csv"; same_file "K=$k replace, no key: every row once" src.csv "h$k.csv"
  # append: a new table, then the rest into the existing one
  "$tdspipe" ingest --source-uri "$N" --source-table "query:SELECT * FROM narrow WHERE id <= 12000" \
    --dest-uri "$N&bulk_writers=$k" --dest-table "dbo.a$k" --incremental-strategy append --no-load-timestamp \
    --page-size 1000 >out 2>err &&
  "$tdspipe" ingest --source-uri "$N" --source-table "query:SELECT * FROM narrow WHERE id > 12000" \
    --dest-uri "$N&bulk_writers=$k" --dest-table "dbo.a$k" --incremental-strategy append --no-load-timestamp \
    --page-size 1000 >out 2>err && ok "K=$k append twice" || bad "K=$k append" "$(cat err)"
  q_csv "$N" "SELECT * FROM a$k ORDER BY id" "a$k.csv"; same_file "K=$k append: every row once" src.csv "a$k.csv"
  # K > 1: the stage is copied into the live table, without a table lock
  [ "$k" = 1 ] || { grep -q "batch: .*INSERT INTO \[dbo\]\.\[a$k\] (" "$work/srv.err" &&
    ! grep -q "INSERT INTO \[dbo\]\.\[a$k\] WITH" "$work/srv.err" && ok "K=$k append: no table lock on the live table" ||
    bad "K=$k append: no plain INSERT … SELECT, or TABLOCK on an existing table"; }
  # merge: half the keys there with other values, then all of them
  "$tdspipe" ingest --source-uri "$N" --source-table "query:SELECT id, big, name, CAST(id AS float) AS val FROM narrow WHERE id <= 15000" \
    --dest-uri "$N" --dest-table "dbo.m$k" --incremental-strategy merge --primary-key id --no-load-timestamp \
    >out 2>err || bad "K=$k merge seed" "$(cat err)"
  into "$N" "m$k" merge "$k" --primary-key id && ok "K=$k merge" || bad "K=$k merge" "$(cat err)"
  q_csv "$N" "SELECT * FROM m$k ORDER BY id" "m$k.csv"; same_file "K=$k merge: one row per key, the source's" src.csv "m$k.csv"
  # delete+insert on id, twice: the stage's [MIN, MAX] window replaced
  into "$N" "d$k" delete+insert "$k" --primary-key id --incremental-key id &&
    into "$N" "d$k" delete+insert "$k" --primary-key id --incremental-key id && ok "K=$k delete+insert twice" ||
    bad "K=$k delete+insert" "$(cat err)"
  q_csv "$N" "SELECT * FROM d$k ORDER BY id" "d$k.csv"; same_file "K=$k delete+insert: every row once" src.csv "d$k.csv"
done
# writers start only when a batch would wait: into a server that takes
# 0.2 MB/s per connection (a batch of 500 rows: ~0.1 s) they all start
start slow "$src/tests/server/scenarios/narrow.json" --rate-limit-mbs 0.2 --verbose
L="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"
for k in 4 12; do
  "$tdspipe" ingest --source-uri "$N" --source-table "query:SELECT * FROM narrow WHERE id <= 6000" \
    --dest-uri "$L&bulk_writers=$k" --dest-table "dbo.s$k" --no-load-timestamp --page-size 500 >out 2>err ||
    bad "K=$k into the slow server" "$(cat err)"
  n=$(grep "batch: INSERT BULK \[dbo\]\.\[_tdspipe_bulk_s$k\]" "$work/slow.err" | sed 's/.*conn \([0-9]*\):.*/\1/' |
    sort -u | grep -c .)
  [ "$n" -gt 1 ] && [ "$n" -le "$k" ] && ok "K=$k: $n sessions sent INSERT BULK" || bad "K=$k sessions" "$n"
done
n=$(sessions r1)
[ "$n" = 0 ] && ok "K=1: the load's own connection, no stage apart" || bad "K=1 sessions" "$n"
q_csv "$N" "SELECT name FROM sys.tables WHERE name LIKE '_tdspipe%'" stages.csv
[ "$(grep -c '' stages.csv)" = 1 ] && ok "no stage left behind" || bad "stages left" "$(cat stages.csv)"

# every type, in batches of 3 rows over 4 writers
q_csv "$T" "SELECT * FROM alltypes ORDER BY id" types.csv
"$tdspipe" ingest --source-uri "$T" --source-table dbo.alltypes --dest-uri "$T&bulk_writers=4" --dest-table dbo.tp \
  --no-load-timestamp --page-size 3 >out 2>err && ok "alltypes over 4 writers" || bad "alltypes" "$(cat err)"
q_csv "$T" "SELECT * FROM tp ORDER BY id" tp.csv; same_file "every type round-trips through the writers" types.csv tp.csv

# ------------------------------------------- a writer fails in mid-load
# the targets first hold narrow's first 3000 rows (below the fault)
seed() {
  "$tdspipe" ingest --source-uri "$N" --source-table "query:SELECT * FROM narrow WHERE id <= 3000" --dest-uri "$F" \
    --dest-table "dbo.$1" --incremental-strategy merge --primary-key id --no-load-timestamp >out 2>err ||
    bad "seed $1" "$(cat err)"
}
# the target's fingerprint: count, ends, one row (one-row replies: below the fault)
fp() { q_csv "$F" "SELECT COUNT(*) AS n, MIN(id) AS lo, MAX(id) AS hi, MAX(name) AS nm FROM $1" "$2"; }
for st in replace append merge; do
  seed "f_$st"; fp "f_$st" "f_$st.0"
  into "$F" "f_$st" "$st" 4 --primary-key id
  rc=$?
  [ "$rc" = 1 ] && ok "$st, K=4: a dropped writer fails the load (exit 1)" || bad "$st: exit $rc" "$(cat err)"
  grep -q 'bulk writer' err && [ "$(grep -c '' err)" = 1 ] && ok "$st: one line naming the writer" ||
    bad "$st: message" "$(cat err)"
  grep -q 'Passw0rd' err && bad "$st: the password in the message" || ok "$st: no secret in the message"
  fp "f_$st" "f_$st.1"; same_file "$st: the destination is unchanged" "f_$st.0" "f_$st.1"
done
q_csv "$F" "SELECT name FROM sys.tables WHERE name LIKE '_tdspipe%'" fstages.csv
[ "$(grep -c '' fstages.csv)" = 1 ] && ok "failed loads leave no stage" || bad "stages after failures" "$(cat fstages.csv)"

# ----------------------------------- SIGINT while the writers are held back
"$tdspipe" ingest --source-uri "$N" --source-table "query:SELECT * FROM narrow WHERE id <= 3000" --dest-uri "$L" \
  --dest-table dbo.sig --no-load-timestamp >out 2>err || bad "seed sig" "$(cat err)"
fp_l() { q_csv "$L" "SELECT COUNT(*) AS n, MIN(id) AS lo, MAX(id) AS hi FROM sig" "$1"; }
fp_l sig.0
"$tdspipe" ingest --source-uri "$N" --source-table dbo.narrow --dest-uri "$L&bulk_writers=4" --dest-table dbo.sig \
  --no-load-timestamp --page-size 1000 --extract-parallelism 1 >int.out 2>&1 &
ip=$!
sleep 1.5
t0=$(date +%s%N)
kill -INT $ip
wait $ip
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 1 ] && ok "SIGINT: exit 1" || bad "SIGINT: exit $rc" "$(cat int.out)"
[ "$ms" -lt 5000 ] && ok "SIGINT: writers stopped in ${ms} ms" || bad "SIGINT took ${ms} ms"
grep -q 'cancelled' int.out && [ "$(grep -c '' int.out)" = 1 ] && ok "SIGINT: one line" || bad "SIGINT message" "$(cat int.out)"
fp_l sig.1; same_file "SIGINT: the destination is unchanged" sig.0 sig.1
q_csv "$L" "SELECT name FROM sys.tables WHERE name LIKE '_tdspipe%'" sstages.csv
[ "$(grep -c '' sstages.csv)" = 1 ] && ok "SIGINT: no stage left" || bad "stages after SIGINT" "$(cat sstages.csv)"

# ------------------------------------------------------------- refusals
for v in 0 65 x; do
  "$tdspipe" ingest --source-uri "$N" --source-table dbo.narrow --dest-uri "$N&bulk_writers=$v" --dest-table dbo.z \
    >out 2>err
  rc=$?
  [ "$rc" = 2 ] && grep -q 'bulk_writers must be a number from 1 to 64' err && ok "bulk_writers=$v refused" ||
    bad "bulk_writers=$v: exit $rc" "$(cat err)"
done

finish
