#!/usr/bin/env bash
# e2e_uri_forms.sh — every URI form of ingestr's documentation that tdspipe
# supports (docs/cli.md "URI forms"), run through build/tdspipe against
# build/tdstestd, each checked by where its data landed or by its refusal:
#   csv:// jsonl:// ndjson:// (destinations and sources): everything after
#     "scheme://" is the path — "csv:///abs" absolute, "csv://rel"
#     relative, percent-decoded, the query dropped, ".gz" gzip;
#   duckdb:// sqlite://: SQLAlchemy's rule — "///rel", "////abs";
#   postgres:// postgresql://: given to libpq (sslmode goes through);
#   mssql:// sqlserver:// azuresql:// azure-sql://: ingestr's query keys;
#   parquet://: ingestr's file rule ("parquet:///abs", "parquet://rel";
#     e2e_parquet.sh checks the files' values), no path refused;
#   the +cdc sources: parsed with their parameters, refused into a file
#   (e2e_cdc.sh loads them into databases).
#
#   tests/cli/e2e_uri_forms.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" e2e_uri_forms "$@"

start_server "$src/tests/server/scenarios/demo.json"
P=$port
U="mssql://sa:Passw0rd%21@127.0.0.1:$P/demo?encrypt=disable"
A=$work/abs
mkdir -p "$A" "$work/d/sub" && cd "$work/d"
I=(ingest --source-table dbo.customers --progress log --no-load-timestamp)

# the reference: how many customers the demo has (a CSV has a header)
"$tdspipe" "${I[@]}" --source-uri "$U" --dest-uri "csv://$work/ref.csv" 2>"$work/err" ||
  { echo "FAIL reference load: $(cat "$work/err")"; exit 1; }
n=$(($(grep -c '' "$work/ref.csv") - 1))
[ "$n" -gt 0 ] && ok "reference: $n customers" || bad "reference load is empty"

# lands NAME FILE [gz]: FILE exists and holds the n rows (plus a CSV header)
lands() {
  local name=$1 f=$2 gz=${3:-} lines
  if [ ! -f "$f" ]; then bad "$name: no file at $f" "$(ls -R "$work/d" | head -20)"; return; fi
  if [ -n "$gz" ]; then
    gzip -t "$f" 2>/dev/null || { bad "$name: $f is not gzip"; return; }
    lines=$(zcat "$f" | grep -c '')
  else
    head -c2 "$f" | od -An -tx1 | grep -q '1f 8b' && { bad "$name: $f is gzip"; return; }
    lines=$(grep -c '' "$f")
  fi
  case $f in *.csv | *.csv.gz) lines=$((lines - 1)) ;; esac
  same "$name: $n rows in $f" "$lines" "$n"
}
# nothing_new NAME: the last run created no file in the work tree
snapshot() { find "$work/d" "$A" | sort >"$work/before"; }
nothing_new() {
  find "$work/d" "$A" | sort >"$work/after"
  cmp -s "$work/before" "$work/after" && ok "$1: nothing written" || bad "$1: files appeared" "$(comm -13 "$work/before" "$work/after")"
}

# ------------------------------------------------------ file destinations
run "csv:///abs" 0 "${I[@]}" --source-uri "$U" --dest-uri "csv://$A/out.csv"
lands "csv:///abs is absolute" "$A/out.csv"
[ ! -e "$work/d/${A#/}/out.csv" ] && ok "csv:///abs: not under the working directory" || bad "csv:///abs also went relative"
run "csv://rel" 0 "${I[@]}" --source-uri "$U" --dest-uri "csv://rel.csv"
lands "csv://rel is relative" "$work/d/rel.csv"
run "csv://dir/rel" 0 "${I[@]}" --source-uri "$U" --dest-uri "csv://sub/rel.csv"
lands "csv://dir/rel is relative" "$work/d/sub/rel.csv"
run "csv .gz" 0 "${I[@]}" --source-uri "$U" --dest-uri "csv://$A/out.csv.gz"
lands "csv:///abs.gz is gzip" "$A/out.csv.gz" gz
run "csv percent-decoded, query dropped" 0 "${I[@]}" --source-uri "$U" --dest-uri "csv://my%20file.csv?delimiter=x"
lands "csv://my%20file.csv" "$work/d/my file.csv"
run "jsonl:///abs" 0 "${I[@]}" --source-uri "$U" --dest-uri "jsonl://$A/o.jsonl"
lands "jsonl:///abs is absolute" "$A/o.jsonl"
run "jsonl://rel.gz" 0 "${I[@]}" --source-uri "$U" --dest-uri "jsonl://o.jsonl.gz"
lands "jsonl://rel.gz is relative gzip" "$work/d/o.jsonl.gz" gz
run "ndjson:///abs" 0 "${I[@]}" --source-uri "$U" --dest-uri "ndjson://$A/n.jsonl"
lands "ndjson:///abs is absolute" "$A/n.jsonl"
cmp -s "$A/n.jsonl" "$A/o.jsonl" && ok "ndjson:// writes what jsonl:// writes" || bad "ndjson and jsonl differ"
run "ndjson://rel" 0 "${I[@]}" --source-uri "$U" --dest-uri "ndjson://n.jsonl"
lands "ndjson://rel is relative" "$work/d/n.jsonl"

# ------------------------------------------------- database destinations
if command -v sqlite3 >/dev/null; then
  run "sqlite:///rel" 0 "${I[@]}" --source-uri "$U" --dest-uri "sqlite:///rel.db"
  same "sqlite:///rel is relative" "$(sqlite3 "$work/d/rel.db" 'select count(*) from customers' 2>&1)" "$n"
  run "sqlite:////abs" 0 "${I[@]}" --source-uri "$U" --dest-uri "sqlite:///$A/a.db"
  same "sqlite:////abs is absolute" "$(sqlite3 "$A/a.db" 'select count(*) from customers' 2>&1)" "$n"
else
  echo "skip SQLite checks: no sqlite3"
fi
if [ -x "$build/ddb_query" ] && [ -s "${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}" ]; then
  export TDSPIPE_DUCKDB_LIB=${TDSPIPE_DUCKDB_LIB:-$HOME/.cache/tdspipe/duckdb/libduckdb.so}
  run "duckdb:///rel" 0 "${I[@]}" --source-uri "$U" --dest-uri "duckdb:///rel.duckdb"
  same "duckdb:///rel is relative" "$("$build/ddb_query" "$work/d/rel.duckdb" 'select count(*) from dbo.customers')" "$n"
  run "duckdb:////abs" 0 "${I[@]}" --source-uri "$U" --dest-uri "duckdb:///$A/a.duckdb"
  same "duckdb:////abs is absolute" "$("$build/ddb_query" "$A/a.duckdb" 'select count(*) from dbo.customers')" "$n"
  run "parquet:///abs" 0 "${I[@]}" --source-uri "$U" --dest-uri "parquet://$A/x.parquet"
  same "parquet:///abs is absolute" "$("$build/ddb_query" :memory: "select count(*) from read_parquet('$A/x.parquet')")" "$n"
  run "parquet://rel" 0 "${I[@]}" --source-uri "$U" --dest-uri "parquet://x%20y.parquet"
  same "parquet://rel is relative, percent-decoded" \
    "$("$build/ddb_query" :memory: "select count(*) from read_parquet('$work/d/x y.parquet')")" "$n"
else
  echo "skip DuckDB: no libduckdb.so (scripts/get_duckdb.sh) or build/ddb_query"
fi
if [ -x "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -1)" ] && command -v psql >/dev/null; then
  pgdir=$(mktemp -d /tmp/tdspipe-pg.XXXXXX)
  if pgport=$(bash "$src/tests/sink/pg_server.sh" start "$pgdir" 2>"$work/pg.err"); then
    for scheme in postgresql postgres; do
      run "$scheme://" 0 "${I[@]}" --source-uri "$U" --dest-table "public.c_$scheme" \
        --dest-uri "$scheme://postgres@127.0.0.1:$pgport/postgres?sslmode=disable&application_name=tdspipe"
      same "$scheme:// loaded" "$(psql "postgresql://postgres@127.0.0.1:$pgport/postgres" -Atc "select count(*) from public.c_$scheme")" "$n"
    done
    # sslmode reaches libpq: this server has no TLS, so require must fail
    run "postgresql sslmode=require goes to libpq" 1 "${I[@]}" --source-uri "$U" --dest-table public.c_ssl \
      --dest-uri "postgresql://postgres@127.0.0.1:$pgport/postgres?sslmode=require"
    expect_err "sslmode=require refused by the server" "SSL"
  else
    echo "skip PostgreSQL: $(head -3 "$work/pg.err")"
  fi
else
  echo "skip PostgreSQL: not installed"
fi

# ------------------------------------------------------------ file sources
T=(ingest --source-table people --dest-table people --progress log --no-load-timestamp)
run "csv:///abs source" 0 "${T[@]}" --source-uri "csv://$A/out.csv" --dest-uri "csv://$A/back.csv"
lands "csv:///abs source read" "$A/back.csv"
run "csv://rel source" 0 "${T[@]}" --source-uri "csv://rel.csv" --dest-uri "csv://back_rel.csv"
lands "csv://rel source read" "$work/d/back_rel.csv"
run "csv://%20 source, query dropped" 0 "${T[@]}" --source-uri "csv://my%20file.csv?encoding=utf-8" --dest-uri "csv://back_sp.csv"
lands "csv://my%20file.csv source read" "$work/d/back_sp.csv"
run "jsonl://rel.gz source" 0 "${T[@]}" --source-uri "jsonl://o.jsonl.gz" --dest-uri "jsonl://back.jsonl"
lands "jsonl://rel.gz source read" "$work/d/back.jsonl"
run "ndjson:///abs source" 0 "${T[@]}" --source-uri "ndjson://$A/n.jsonl" --dest-uri "ndjson://$A/back_n.jsonl"
lands "ndjson:///abs source read" "$A/back_n.jsonl"
snapshot
run "csv source encoding=windows-1252" 2 "${T[@]}" --source-uri "csv://rel.csv?encoding=windows-1252" --dest-uri "csv://x.csv"
expect_err "encoding refusal names it" "csv source: encoding 'windows-1252' is not supported"
nothing_new "encoding refusal"
run "csv:///rel.csv is absolute: /rel.csv is missing" 1 "${T[@]}" --source-uri "csv:///rel.csv" --dest-uri "csv://x.csv"
expect_err "missing absolute file named" "/rel.csv"

# ------------------------------------------------------ SQL Server sources
for scheme in mssql sqlserver azuresql azure-sql; do
  run "$scheme:// source (ingestr's documented keys)" 0 "${I[@]}" --dest-uri "csv://$scheme.csv" \
    --source-uri "$scheme://sa:Passw0rd%21@127.0.0.1:$P/demo?encrypt=disable&driver=ODBC+Driver+18+for+SQL+Server&TrustServerCertificate=yes"
  lands "$scheme://" "$work/d/$scheme.csv"
done
run "mssql:// user and password percent-decoded (s%61 is sa)" 0 "${I[@]}" --dest-uri "csv://dec.csv" \
  --source-uri "mssql://s%61:Passw0rd%21@127.0.0.1:$P/demo?encrypt=disable"
lands "mssql:// decoded login" "$work/d/dec.csv"
run "mssql:// wrong password refused by the server" 1 "${I[@]}" --dest-uri "csv://x.csv" \
  --source-uri "mssql://sa:Passw0rd%22@127.0.0.1:$P/demo?encrypt=disable"
[ -f x.csv ] && bad "a refused login wrote x.csv" || ok "no file from a refused login"
run "mssql:// port and database" 0 "${I[@]}" --dest-uri "csv://db.csv" \
  --source-uri "mssql://sa:Passw0rd%21@127.0.0.1:$P/demo?encrypt=disable&app+name=uri-forms&connection+timeout=5"
lands "mssql:// with app name / connection timeout" "$work/d/db.csv"

# ------------------------------------------------------------- refusals
snapshot
run "parquet:// without a path" 2 "${I[@]}" --source-uri "$U" --dest-uri "parquet://"
expect_err "parquet without a path" "parquet destination: the URI names no file"
for scheme in mssql sqlserver azuresql azure-sql; do
  run "$scheme+cdc:// source" 2 "${I[@]}" --dest-uri "csv://cdc.csv" \
    --source-uri "$scheme+cdc://sa:Passw0rd%21@127.0.0.1:$P/demo?encrypt=disable&capture_instance=dbo_customers&dest_schema=raw&poll_interval=2s"
  expect_err "$scheme+cdc refusal" "Change Data Capture needs a database destination"
done
run "+cdc with a bad poll_interval" 2 "${I[@]}" --dest-uri "csv://cdc.csv" \
  --source-uri "mssql+cdc://sa:Passw0rd%21@127.0.0.1:$P/demo?poll_interval=soon"
expect_err "+cdc poll_interval named" "invalid poll_interval 'soon'"
run "+ct with capture_instance" 2 "${I[@]}" --dest-uri "csv://ct.csv" \
  --source-uri "mssql+ct://sa:Passw0rd%21@127.0.0.1:$P/demo?encrypt=disable&capture_instance=x"
expect_err "+ct capture_instance refused" "Change Data Capture sources (mssql+cdc://)"
run "plain mssql:// with poll_interval" 2 "${I[@]}" --dest-uri "csv://p.csv" --source-uri "$U&poll_interval=1s"
expect_err "poll_interval only on +ct/+cdc" "mssql+ct:// and mssql+cdc://"
run "+cdc destination" 2 "${I[@]}" --source-uri "$U" --dest-uri "mssql+cdc://sa:Passw0rd%21@127.0.0.1:$P/demo"
expect_err "+cdc is a source scheme" "is a source scheme"
if grep -q 'Passw0rd' "$work/err"; then bad "a password in a refusal"; else ok "no password in the refusals"; fi
nothing_new "refusals"

finish
