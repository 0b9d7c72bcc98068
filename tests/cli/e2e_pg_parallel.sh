#!/usr/bin/env bash
# e2e_pg_parallel.sh — the PostgreSQL destination with several COPY
# connections (copy_writers=K, sink/pg_parallel.c) against a real
# PostgreSQL (tests/sink/pg_server.sh) and build/tdstestd:
#   K = 1, 2, 4 into replace, append and merge: every row exactly once (count,
#   distinct keys, sums and an md5 of the ordered rows, against K = 1), no
#   stage left behind;
#   the source connection dropped mid-load (tdstestd close_after_rows) and a
#   writer failing (a trigger on the stage raises at one row): exit 1, one
#   line, no password, the destination exactly as before, no stage left;
#   a writer that cannot connect (a role's connection limit): the same;
#   a stage left by a crashed load (its backend gone) dropped by the next
#   load of that table; copy_writers out of range refused.
#
#   tests/cli/e2e_pg_parallel.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_pg_parallel "$@"
cd "$work"

if ! [ -x "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -1)" ] || ! command -v psql >/dev/null; then
  echo "skip: PostgreSQL is not installed"; finish; exit
fi
pgdir=$(mktemp -d /tmp/tdspipe-pg.XXXXXX)
if ! pgport=$(bash "$src/tests/sink/pg_server.sh" start "$pgdir" 2>"$work/pg.err"); then
  echo "skip: PostgreSQL did not start: $(head -3 "$work/pg.err")"; finish; exit
fi
PG="postgresql://postgres:S3cretPw@127.0.0.1:$pgport/postgres"
sql() { psql "postgresql://postgres@127.0.0.1:$pgport/postgres" -Atqc "$1" 2>&1; }

# narrow, 120,000 rows (about 6 MB of COPY data: several 1 MB buffers per writer)
N=120000
python3 - "$src/tests/server/scenarios/narrow.json" "$N" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["databases"][0]["tables"][0]["rows"] = int(sys.argv[2])
json.dump(s, open("narrow.json", "w"))
s["faults"] = {"close_after_rows": int(sys.argv[2]) * 3 // 4}
json.dump(s, open("fault.json", "w"))
PY
start_server narrow.json
A="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"
start_server fault.json
F="mssql://sa:Passw0rd%21@127.0.0.1:$port/bench?encrypt=disable"

# ingest NAME RC SOURCE TABLE K STRATEGY: one load with copy_writers=K
ingest() {
  local name=$1 want=$2 srcuri=$3 table=$4 k=$5 st=$6
  run "$name" "$want" ingest --source-uri "$srcuri" --source-table dbo.narrow --dest-uri "$PG?copy_writers=$k" \
    --dest-table "public.$table" --incremental-strategy "$st" --no-load-timestamp --extract-parallelism 1
}
# the table's content in one line: count, distinct ids, sums, md5 of the ordered rows
digest() {
  sql "SELECT count(*), count(DISTINCT id), sum(id), sum(big), md5(string_agg(id || '|' || big || '|' || name || '|' || val, ',' ORDER BY id)) FROM public.$1"
}
stages() { sql "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_tdspipe\\_%'"; }

# ------------------------------------------------------------ replace
ingest "replace K=1" 0 "$A" r1 1 replace
want=$(digest r1)
same "replace K=1: every row once" "$(sql "SELECT count(*) = $N AND count(DISTINCT id) = $N AND sum(id) = $N::bigint * ($N + 1) / 2 FROM public.r1")" t
for k in 2 4; do
  ingest "replace K=$k" 0 "$A" r$k $k replace
  same "replace K=$k: same rows as K=1" "$(digest r$k)" "$want"
  same "replace K=$k: a logged table with its key" \
    "$(sql "SELECT relpersistence, (SELECT count(*) FROM pg_index WHERE indrelid = 'public.r$k'::regclass AND indisprimary) FROM pg_class WHERE oid = 'public.r$k'::regclass")" "p|1"
done
ingest "replace K=4 again (existing target)" 0 "$A" r4 4 replace
same "replace K=4 again: same rows" "$(digest r4)" "$want"
same "replace: no stage left" "$(stages)" 0

# a schema the load creates is invisible to other sessions until the
# commit: that load uses one connection (docs/parallel.md)
run "replace K=4 into a new schema" 0 ingest --source-uri "$A" --source-table dbo.narrow --dest-uri "$PG?copy_writers=4" \
  --dest-table fresh_schema.r --no-load-timestamp --extract-parallelism 1
same "new schema: same rows" "$want" "$(sql "SELECT count(*), count(DISTINCT id), sum(id), sum(big), md5(string_agg(id || '|' || big || '|' || name || '|' || val, ',' ORDER BY id)) FROM fresh_schema.r")"

# ------------------------------------------------------------ append
ingest "append K=2 into a new table" 0 "$A" a2 2 append
same "append K=2: rows once" "$(digest a2)" "$want"
sql "CREATE TABLE public.a3 (id bigint, big bigint, name text, val double precision)" >/dev/null
ingest "append K=4 into a table without a key" 0 "$A" a3 4 append
ingest "append K=2 into it again" 0 "$A" a3 2 append
same "append twice: every id twice" "$(sql "SELECT count(*), count(DISTINCT id), min(c), max(c) FROM (SELECT id, count(*) c FROM public.a3 GROUP BY id) x")" "$N|$N|2|2"
same "append: no stage left" "$(stages)" 0

# ------------------------------------------------------------ merge
for k in 1 2 4; do
  ingest "merge K=$k: base" 0 "$A" m$k 1 replace
  sql "UPDATE public.m$k SET name = 'old' WHERE id % 7 = 0; DELETE FROM public.m$k WHERE id % 5 = 0; INSERT INTO public.m$k VALUES (-1, 0, 'extra', 0)" >/dev/null
  ingest "merge K=$k" 0 "$A" m$k $k merge
  same "merge K=$k: source rows once, the extra row kept" "$(sql "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE name = 'old') FROM public.m$k")" "$((N + 1))|$((N + 1))|0"
  sql "DELETE FROM public.m$k WHERE id = -1" >/dev/null
  same "merge K=$k: same rows as the source" "$(digest m$k)" "$want"
done
same "merge: no stage left" "$(stages)" 0

# ------------------------------------------------------------ failures
for st in replace append merge; do
  for k in 2 4; do
    before=$(digest r1)
    ingest "source dropped mid-load, $st K=$k" 1 "$F" r1 $k $st
    expect_err "source dropped, $st K=$k: one line" "tdspipe"
    case $err in *S3cretPw*) bad "source dropped, $st K=$k: password in the message" "$err" ;; esac
    same "source dropped, $st K=$k: destination unchanged" "$(digest r1)" "$before"
    same "source dropped, $st K=$k: no stage left" "$(stages)" 0
  done
done

# a writer fails: every new stage gets a trigger that raises at id 90000
sql "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
       IF NEW.id = 90000 THEN RAISE EXCEPTION 'boom at %', NEW.id; END IF; RETURN NEW; END \$\$;
     CREATE FUNCTION arm() RETURNS event_trigger LANGUAGE plpgsql AS \$\$ DECLARE r record; BEGIN
       FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' LOOP
         IF r.object_identity LIKE '%_tdspipe_p%' THEN
           EXECUTE format('CREATE TRIGGER boom BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION boom()', r.object_identity);
         END IF; END LOOP; END \$\$;
     CREATE EVENT TRIGGER arm ON ddl_command_end EXECUTE FUNCTION arm()" >/dev/null
for st in replace append merge; do
  before=$(digest r1)
  ingest "a writer fails, $st K=4" 1 "$A" r1 4 $st
  expect_err "a writer fails, $st: one line naming the error" "boom at 90000"
  case $err in *S3cretPw*) bad "a writer fails, $st: password in the message" "$err" ;; esac
  same "a writer fails, $st: destination unchanged" "$(digest r1)" "$before"
  same "a writer fails, $st: no stage left" "$(stages)" 0
done
ingest "a writer fails into a new table" 1 "$A" fresh 2 append
same "a writer fails into a new table: no table" "$(sql "SELECT to_regclass('public.fresh') IS NULL")" t
same "a writer fails into a new table: no stage left" "$(stages)" 0
sql "DROP EVENT TRIGGER arm" >/dev/null

# a writer cannot connect (a role limited to 2 connections; K = 4 needs 5)
sql "CREATE ROLE lim LOGIN PASSWORD 'LimPw9' CONNECTION LIMIT 2; GRANT CREATE ON SCHEMA public TO lim" >/dev/null
L="postgresql://lim:LimPw9@127.0.0.1:$pgport/postgres"
run "as a limited role, K=1" 0 ingest --source-uri "$A" --source-table dbo.narrow --dest-uri "$L" \
  --dest-table public.lim1 --no-load-timestamp --extract-parallelism 1
run "a writer cannot connect, K=4" 1 ingest --source-uri "$A" --source-table dbo.narrow --dest-uri "$L?copy_writers=4" \
  --dest-table public.lim1 --no-load-timestamp --extract-parallelism 1
expect_err "a writer cannot connect: one line" "copy writer: cannot connect"
case $err in *LimPw9*) bad "a writer cannot connect: password in the message" "$err" ;; esac
same "a writer cannot connect: destination unchanged" "$(digest lim1)" "$want"
same "a writer cannot connect: no stage left" "$(stages)" 0

# ------------------------------------------------------------ a crashed load's stage
sql "CREATE UNLOGGED TABLE public._tdspipe_p999999_r2 (id int); CREATE UNLOGGED TABLE public._tdspipe_p999999_other (id int)" >/dev/null
ingest "load after a crash" 0 "$A" r2 2 replace
same "a crashed load's stage of this table dropped, another table's kept" \
  "$(sql "SELECT string_agg(relname, ',') FROM pg_class WHERE relname LIKE '\\_tdspipe\\_%'")" "_tdspipe_p999999_other"
same "load after a crash: same rows" "$(digest r2)" "$want"

# ------------------------------------------------------------ the URI
run "copy_writers among libpq's parameters" 0 ingest --source-uri "$A" --source-table dbo.narrow \
  --dest-uri "$PG?sslmode=disable&copy_writers=2&connect_timeout=10" --dest-table public.u1 --no-load-timestamp --extract-parallelism 1
same "copy_writers among libpq's parameters: same rows" "$(digest u1)" "$want"

# ------------------------------------------------------------ refusals
for k in 0 17 x; do
  ingest "copy_writers=$k refused (a usage error)" 2 "$A" r1 "$k" replace
  expect_err "copy_writers=$k: one line" "copy_writers must be 1 to 16"
done
finish
