#!/usr/bin/env bash
# e2e_scaleout.sh — scale-out slices (issue 16, docs/scale-out.md) end to
# end against build/tdstestd (capped per connection so a slice takes a few
# seconds): n = 3 local processes each load one slice of a 300000-row table
# into a CSV part file (one of them as a Kubernetes Indexed Job pod would,
# from JOB_COMPLETION_INDEX); one is killed (SIGKILL) mid-load, so its part
# is missing and --finalize refuses, naming it; the slice is rerun and
# --finalize joins the parts into the destination: every row exactly once,
# one header, no part left. Also the flags' refusals.
#
#   tests/cli/e2e_scaleout.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_scaleout "$@"
cd "$work"

cat >so.json <<'EOF'
{ "logins": [ { "user": "sa", "password": "Passw0rd!", "database": "demo" } ],
  "databases": [ { "name": "demo", "tables": [
    { "schema": "dbo", "name": "big", "rows": 300000, "primary_key": [ "id" ],
      "columns": [ { "name": "id", "type": "int", "nullable": false, "gen": { "start": 1, "step": 1 } },
                   { "name": "v", "type": "nvarchar(30)", "gen": { "prefix": "value-" } } ] } ] } ] }
EOF
start_server "$work/so.json" --rate-limit-mbs 0.6
U="mssql://sa:Passw0rd%21@127.0.0.1:$port/demo?encrypt=disable"
D="csv://$work/out.csv"
slice() { # INDEX [extra flags…]: one slice in the background, its pid in $spid
  local i=$1; shift
  "$tdspipe" ingest --source-uri "$U" --source-table dbo.big --dest-uri "$D" --no-load-timestamp \
    --partition-index "$i" --partition-count 3 --run-id run7 --extract-parallelism 2 "$@" >"$work/s$i.out" 2>&1 &
  spid=$!
}

slice 0; p0=$spid
JOB_COMPLETION_INDEX=2 "$tdspipe" ingest --source-uri "$U" --source-table dbo.big --dest-uri "$D" --no-load-timestamp \
  --partition-count 3 --run-id run7 --extract-parallelism 2 >"$work/s2.out" 2>&1 &
p2=$!
slice 1; p1=$spid
sleep 1
kill -KILL $p1 2>/dev/null && ok "slice 1 killed mid-load" || bad "slice 1 ended before the kill"
wait $p1 2>/dev/null
wait $p0; same "slice 0 exit" $? 0
wait $p2; same "slice 2 (JOB_COMPLETION_INDEX) exit" $? 0
ls out.run7.part-*.csv >parts 2>/dev/null # (a killed slice may leave its sink's .tmp- file)
same "two parts committed" "$(cat parts | tr '\n' ' ')" "out.run7.part-00000-of-00003.csv out.run7.part-00002-of-00003.csv "
[ -e out.csv ] && bad "the destination exists before finalize" || ok "no destination before finalize"

run "finalize with a slice missing" 1 ingest --dest-uri "$D" --partition-count 3 --finalize run7
expect_err "the missing slice is named" "1 of 3 slices have not committed (index 1)"
[ -e out.csv ] && bad "a refused finalize wrote the destination" || ok "refused finalize wrote nothing"

run "slice 1 rerun" 0 ingest --source-uri "$U" --source-table dbo.big --dest-uri "$D" --no-load-timestamp \
  --partition-index 1 --partition-count 3 --run-id run7 --extract-parallelism 2
run "finalize" 0 ingest --dest-uri "$D" --partition-count 3 --finalize run7
same "every row once" "$(tail -n +2 out.csv | cut -d, -f1 | sort -n | uniq | wc -l) $(($(wc -l <out.csv) - 1))" "300000 300000"
same "ids 1..300000" "$(tail -n +2 out.csv | cut -d, -f1 | sort -n | sed -n '1p;$p' | tr '\n' ' ')" "1 300000 "
same "one header" "$(grep -c '^id,v$' out.csv)" 1
same "parts and stale temporary files removed" "$(ls out.run7.part-* 2>/dev/null | wc -l)" 0

# JSONL: two slices (windows of the clustered key, no partition flag), joined
for i in 0 1; do
  run "jsonl slice $i" 0 ingest --source-uri "$U" --source-table dbo.big --dest-uri "jsonl://$work/out.jsonl" \
    --no-load-timestamp --partition-index $i --partition-count 2 --run-id j1 --extract-parallelism 3
done
run "jsonl finalize" 0 ingest --dest-uri "jsonl://$work/out.jsonl" --partition-count 2 --finalize j1
same "jsonl: every row once" "$(sed 's/.*"id":\([0-9]*\).*/\1/' out.jsonl | sort -n | uniq | wc -l) $(wc -l <out.jsonl)" "300000 300000"

# refusals (exit 2, before anything is read)
run "--partition-count without --run-id" 2 ingest --source-uri "$U" --source-table dbo.big --dest-uri "$D" \
  --partition-index 0 --partition-count 2
expect_err "run id asked for" "--partition-count needs --run-id"
run "index out of range" 2 ingest --source-uri "$U" --source-table dbo.big --dest-uri "$D" --partition-index 2 \
  --partition-count 2 --run-id r
expect_err "index checked" "--partition-index must be below --partition-count (2)"
run "a database destination" 2 ingest --source-uri "$U" --source-table dbo.big --dest-uri "sqlite:///$work/x.db" \
  --partition-index 0 --partition-count 2 --run-id r
expect_err "database destinations named" "database destinations are not supported yet"
run "finalize without a count" 2 ingest --dest-uri "$D" --finalize run7
expect_err "count asked for" "--finalize RUN_ID needs --dest-uri and --partition-count"
finish
