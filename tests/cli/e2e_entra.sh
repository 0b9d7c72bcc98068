#!/usr/bin/env bash
# e2e_entra.sh — every Microsoft Entra ID sign-in method (issue 15) end to
# end: tdspipe ingest from a TLS tdstestd that accepts only the tokens of
# the local identity server (tests/identity/identity_server.py, HTTPS with
# its own CA on 127.0.0.1) into CSV and into a second such tdstestd as the
# SQL Server destination; rows compared with what a SQL login reads; each
# method's HTTP request checked at the identity server (endpoint, grant,
# client id, scope or resource, the secret arriving there); one token
# request per process (source and destination share it from the cache);
# a token endpoint that never answers is given up in bounded time.
# Errors, refusals, the STS-URL rule, token refresh and /proc/PID/cmdline:
# e2e_entra_errors.sh. No packet leaves loopback (a private network
# namespace when the system allows one; every endpoint overridden anyway).
#
#   tests/cli/e2e_entra.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../identity/netns.sh"
entra_netns "$@"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" entra "$@"
. "$src/tests/identity/entra_env.sh"
cd "$work"

fedauth_server "$src/tests/server/scenarios/demo.json" "" --verbose; SRC=127.0.0.1:$port; src_log=$srv_err
fedauth_server "$src/tests/server/scenarios/demo.json"; DST=127.0.0.1:$port

# bounded timeouts: a token endpoint that never answers this app (in the
# background while the rest runs; checked at the end)
idlog set "{\"hang\": [\"token:$HANG_ID\"]}"
hang_t0=$(date +%s)
env -i "${ENV_BASE[@]}" "$tdspipe" ingest --source-uri "$(euri "$SRC" "$HANG_ID:$SP_SECRET" ActiveDirectoryServicePrincipal)" \
  --source-table dbo.customers --dest-uri "csv://$work/hang.csv" --dest-table x --no-load-timestamp \
  >"$work/runs/hang.out" 2>"$work/runs/hang.err" &
hang_pid=$!

# the reference: what a SQL login reads
"$tdspipe" ingest --source-uri "$(sa_uri "$SRC")" --source-table dbo.customers --dest-uri "csv://$work/ref.csv" \
  --dest-table x --no-load-timestamp >/dev/null 2>"$work/ref.err"
[ "$(grep -c '' ref.csv 2>/dev/null)" = 4 ] && ok "reference rows by SQL login" ||
  bad "reference rows by SQL login" "$(head -c 300 "$work/ref.err")"
n_table=0
fedinfo() { grep -c "FEDAUTHINFO sent" "$src_log"; }
if ! command -v readelf >/dev/null; then echo "skip: no readelf"
elif readelf -d "$tdspipe" | grep NEEDED | grep -qi curl; then bad "tdspipe links libcurl (it must load it at run time)"
else ok "tdspipe does not link libcurl (loaded at run time)"; fi
readback() { # TABLE FILE: the destination's rows by SQL login, ordered
  "$tdspipe" ingest --source-uri "$(sa_uri "$DST")" --source-table "query:SELECT * FROM $1 ORDER BY id" \
    --dest-uri "csv://$2" --dest-table x --no-load-timestamp >/dev/null 2>&1 || echo "(readback of $1 failed)" >"$2"
}

# method NAME USERINFO METHOD EXTRA [VAR=VALUE…] -- FILTER…: the method into
# CSV, then into the SQL Server destination; the FILTERs describe the one
# identity request each run must make (kind=… for the endpoint)
method() {
  local name=$1 ui=$2 meth=$3 extra=$4; shift 4
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  local m0 m1 f0 l0
  m0=$(idlog mark)
  f0=$(fedinfo)
  l0=$(($(grep -c '' "$src_log") + 1))
  erun "$name: into CSV" 0 "${vars[@]}" -- ingest --source-uri "$(euri "$SRC" "$ui" "$meth" "$extra")" \
    --source-table dbo.customers --dest-uri "csv://$work/$name.csv" --dest-table x --no-load-timestamp
  same_file "$name: CSV rows = the source's" ref.csv "$name.csv"
  local nf=$(($(fedinfo) - f0))
  same "$name: the server's FEDAUTHINFO workflow" "$nf" 1
  [ "$nf" = 1 ] || { tail -n "+$l0" "$src_log" | grep -iE "fail|refus|error|expire|clos|reset|token" | head -6 | cut -c1-200
                     cut -c1-300 "$work/err"; }
  expect_req "$name: the identity request" "$m0" 1 "$@"
  expect_req "$name: nothing else asked for a token" "$m0" 1 status=200
  [ -n "${CSV_ONLY:-}" ] && return
  m1=$(idlog mark)
  n_table=$((n_table + 1))
  erun "$name: into the SQL Server destination" 0 "${vars[@]}" -- ingest \
    --source-uri "$(euri "$SRC" "$ui" "$meth" "$extra")" --source-table dbo.customers \
    --dest-uri "$(euri "$DST" "$ui" "$meth" "$extra")" --dest-table "dbo.entra_$n_table" --no-load-timestamp \
    --progress json
  readback "dbo.entra_$n_table" "$name.dst.csv"
  same_file "$name: destination rows = the source's" ref.csv "$name.dst.csv"
  expect_req "$name: source and destination share one token (cache)" "$m1" 1 status=200
  expect_req "$name: the destination run's request has the same shape" "$m1" 1 "$@"
}
TOK_EP=path=/$TENANT/oauth2/v2.0/token
SCOPE=form.scope=${SPN}/.default
CC=form.grant_type=client_credentials
JWTB=form.client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer

# ------------------------------------------------ service principal, secret
# tenant from the server's STS URL (FEDAUTHINFO): the user names none
m=$(idlog mark)
method sp-secret "$SP_ID:$SP_SECRET" ActiveDirectoryServicePrincipal "" -- \
  kind=token "$TOK_EP" "$CC" "form.client_id=$SP_ID" "$SCOPE" form.client_secret? form.client_assertion!
expect_has "sp-secret: the secret reached the token endpoint" "$m" form.client_secret "$work/sp.secret" kind=token
CSV_ONLY=1 method sp-secret-at-tenant "$SP_ID%40$TENANT:$SP_SECRET" activedirectoryserviceprincipal "" -- \
  kind=token "$TOK_EP" "form.client_id=$SP_ID" "$SCOPE"
CSV_ONLY=1 method sp-secret-tenant-param "$SP_ID:$SP_SECRET" ActiveDirectoryApplication "&tenant_id=$TENANT" -- \
  kind=token "$TOK_EP" "form.client_id=$SP_ID"
# ingestr v1's spelling: azuresql://, fedauth=
m=$(idlog mark)
erun "azuresql:// + fedauth= (ingestr v1)" 0 -- ingest \
  --source-uri "azuresql://$SP_ID:$SP_SECRET@$SRC/demo?tenant_id=$TENANT&fedauth=ActiveDirectoryServicePrincipal&$TLSQ" \
  --source-table dbo.customers --dest-uri "csv://$work/azsql.csv" --dest-table x --no-load-timestamp
same_file "azuresql://: rows" ref.csv azsql.csv
expect_req "azuresql://: one client-credentials request" "$m" 1 kind=token "$TOK_EP" "form.client_id=$SP_ID" status=200

# --------------------------------------------- service principal, certificate
method sp-cert-param "$CERT_ID" ActiveDirectoryServicePrincipal "&clientcertpath=$work/sp.pem" -- \
  kind=token "$TOK_EP" "$CC" "form.client_id=$CERT_ID" "$SCOPE" "$JWTB" form.client_secret! status=200
method sp-cert-env "$CERT_ID" ActiveDirectoryServicePrincipal "" AZURE_CLIENT_CERTIFICATE_PATH="$work/sp.pem" -- \
  kind=token "$TOK_EP" "$CC" "form.client_id=$CERT_ID" "$JWTB" form.client_secret! status=200

# ------------------------------------------------------- managed identity
IMDS=AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:$IDP
RES=query.resource=$SPN
method mi-system-imds "" ActiveDirectoryManagedIdentity "" "$IMDS" -- \
  kind=imds method=GET headers.metadata=true "$RES" query.api-version? query.client_id! status=200
method mi-user-imds "$UAMI_ID" ActiveDirectoryMSI "" "$IMDS" -- \
  kind=imds headers.metadata=true "$RES" "query.client_id=$UAMI_ID" status=200
APPSVC=(IDENTITY_ENDPOINT="http://127.0.0.1:$IDP/msi/token" IDENTITY_HEADER="$IDHDR")
m=$(idlog mark)
method mi-system-appservice "" ActiveDirectoryManagedIdentity "" "${APPSVC[@]}" -- \
  kind=appservice method=GET query.api-version=2019-08-01 "$RES" query.client_id! status=200
expect_has "mi-system-appservice: X-IDENTITY-HEADER sent" "$m" headers.x-identity-header "$work/idhdr" kind=appservice
method mi-user-appservice "$UAMI_ID" ActiveDirectoryManagedIdentity "" "${APPSVC[@]}" -- \
  kind=appservice query.api-version=2019-08-01 "$RES" "query.client_id=$UAMI_ID" status=200
CSV_ONLY=1 method mi-cloudshell "" ActiveDirectoryMSI "" MSI_ENDPOINT="http://127.0.0.1:$IDP/cloudshell/token" -- \
  kind=cloudshell method=POST headers.metadata=true "form.resource=$SPN" status=200

# ------------------------------------------------------ workload identity
WI=(AZURE_FEDERATED_TOKEN_FILE="$work/federated.tok" AZURE_CLIENT_ID="$WI_ID" AZURE_TENANT_ID="$TENANT")
m=$(idlog mark)
method workload "" ActiveDirectoryWorkloadIdentity "" "${WI[@]}" -- \
  kind=token "$TOK_EP" "$CC" "form.client_id=$WI_ID" "$SCOPE" "$JWTB" status=200
expect_has "workload: the federated token file is the assertion" "$m" form.client_assertion "$work/federated.tok" kind=token

# -------------------------------------------------------------- Azure CLI
az_login
a0=$(az_calls)
method azcli "" ActiveDirectoryAzCli "" -- kind=az "form.resource=$SPN" status=200
same "azcli: az ran once per process (2 processes)" "$(($(az_calls) - a0))" 2
grep -F '"get-access-token"' "$work/bin/az-calls.log" | tail -1 | grep -qF "\"$SPN\"" &&
  ok "azcli: az asked for the SQL resource" || bad "azcli: az's arguments" "$(tail -1 "$work/bin/az-calls.log" | cut -c1-200)"
az_logout

# --------------------------------------------------------------- password
m=$(idlog mark)
method password "$ENTRA_USER_ENC:$USER_PW_ENC" ActiveDirectoryPassword "" -- \
  kind=token "$TOK_EP" form.grant_type=password "form.username=$ENTRA_USER" "$SCOPE" form.client_id? status=200
expect_has "password: the password reached the token endpoint" "$m" form.password "$work/user.pw" kind=token
err_has "password: a warning that Microsoft is retiring it" "retir|deprecat"

# ------------------------------------------- Default: each step of the chain
CSV_ONLY=1 method default-env-secret "" ActiveDirectoryDefault "" AZURE_TENANT_ID="$TENANT" AZURE_CLIENT_ID="$SP_ID" \
  AZURE_CLIENT_SECRET="$SP_SECRET" -- kind=token "$CC" "form.client_id=$SP_ID" form.client_secret?
CSV_ONLY=1 method default-env-cert "" ActiveDirectoryDefault "" AZURE_TENANT_ID="$TENANT" AZURE_CLIENT_ID="$CERT_ID" \
  AZURE_CLIENT_CERTIFICATE_PATH="$work/sp.pem" -- kind=token "$CC" "form.client_id=$CERT_ID" "$JWTB" status=200
CSV_ONLY=1 method default-env-user "" ActiveDirectoryDefault "" AZURE_TENANT_ID="$TENANT" AZURE_CLIENT_ID="$SP_ID" \
  AZURE_USERNAME="$ENTRA_USER" AZURE_PASSWORD="$USER_PW" -- kind=token form.grant_type=password "form.username=$ENTRA_USER"
CSV_ONLY=1 method default-workload "" ActiveDirectoryDefault "" "${WI[@]}" -- kind=token "form.client_id=$WI_ID" "$JWTB"
CSV_ONLY=1 method default-mi "" ActiveDirectoryDefault "" "$IMDS" -- kind=imds headers.metadata=true "$RES" status=200
az_login
method default-az "" ActiveDirectoryDefault "" -- kind=az "form.resource=$SPN" status=200
az_logout
# the method named with spaces, as SqlClient writes it
CSV_ONLY=1 method default-spaced "" "Active%20Directory%20Default" "" "$IMDS" -- kind=imds status=200

# ------------------------------------------------ tenant and identity choices
CSV_ONLY=1 method mi-user-resource-id "" ActiveDirectoryManagedIdentity "&resource%20id=$UAMI_RES_ENC" "$IMDS" -- \
  kind=imds headers.metadata=true "$RES" "query.msi_res_id=$UAMI_RES" status=200
# azidentity's Default: AZURE_CLIENT_ID alone names the user-assigned identity
CSV_ONLY=1 method default-mi-user "" ActiveDirectoryDefault "" "$IMDS" AZURE_CLIENT_ID="$UAMI_ID" -- \
  kind=imds "query.client_id=$UAMI_ID" status=200
CSV_ONLY=1 method password-app-id "$ENTRA_USER_ENC:$USER_PW_ENC" ActiveDirectoryPassword \
  "&applicationclientid=$SP_ID" -- kind=token form.grant_type=password "form.client_id=$SP_ID" status=200
# a server whose STS URL names another tenant ("common"): an explicit
# tenant (tenant_id=, AZURE_TENANT_ID) wins over the one the server names
fedauth_server "$src/tests/server/scenarios/demo.json" "https://127.0.0.1:$IDH/common"; COMMON=127.0.0.1:$port
for how in "tenant_id=" AZURE_TENANT_ID; do
  m=$(idlog mark)
  if [ "$how" = tenant_id= ]; then extra="&tenant_id=$TENANT" var=; else extra= var=AZURE_TENANT_ID=$TENANT; fi
  erun "explicit tenant by $how beats the STS URL's" 0 $var -- ingest \
    --source-uri "$(euri "$COMMON" "$SP_ID:$SP_SECRET" ActiveDirectoryServicePrincipal "$extra")" \
    --source-table dbo.customers --dest-uri "csv://$work/tenant.csv" --dest-table x --no-load-timestamp
  expect_req "tenant by $how: asked $TENANT's token endpoint" "$m" 1 kind=token "$TOK_EP" status=200
done
# Azure SQL's gateway: the login ends with a routing ENVCHANGE; the routed
# server sends FEDAUTHINFO again and the cached token answers it
fedauth_server "$src/tests/server/scenarios/demo.json" "" --route-to "$SRC"; GW=127.0.0.1:$port
m=$(idlog mark); f0=$(fedinfo)
erun "gateway redirect: service principal" 0 -- ingest \
  --source-uri "$(euri "$GW" "$SP_ID:$SP_SECRET" ActiveDirectoryServicePrincipal)" \
  --source-table dbo.customers --dest-uri "csv://$work/routed.csv" --dest-table x --no-load-timestamp
same_file "gateway redirect: rows" ref.csv routed.csv
same "gateway redirect: the routed server's FEDAUTHINFO" "$(($(fedinfo) - f0))" 1
expect_req "gateway redirect: one token for both logins" "$m" 1 status=200

# ---------------------------- two identities in one process: two tokens
m=$(idlog mark)
erun "service principal source, workload identity destination" 0 "${WI[@]}" -- ingest \
  --source-uri "$(euri "$SRC" "$SP_ID:$SP_SECRET" ActiveDirectoryServicePrincipal)" --source-table dbo.customers \
  --dest-uri "$(euri "$DST" "" ActiveDirectoryWorkloadIdentity)" --dest-table dbo.entra_mixed --no-load-timestamp
readback dbo.entra_mixed mixed.dst.csv
same_file "two identities: destination rows" ref.csv mixed.dst.csv
expect_req "two identities: the service principal's token" "$m" 1 kind=token "form.client_id=$SP_ID" status=200
expect_req "two identities: the workload identity's token" "$m" 1 kind=token "form.client_id=$WI_ID" status=200

# ------------------------------------------------ K writers sign in at once
# bulk_writers=4 into a third server: the main connection and every writer
# thread log in with the service principal at about the same time; the
# token comes from the identity server once and from the cache (under its
# mutex) for the rest. The source signs in with SQL so every token request
# counted here is the destination's.
fedauth_server "$src/tests/server/scenarios/demo.json" "" --verbose; DSTK=127.0.0.1:$port; dstk_log=$srv_err
"$tdspipe" ingest --source-uri "$(sa_uri "$SRC")" --source-table "query:SELECT * FROM sales.orders ORDER BY order_id" \
  --dest-uri "csv://$work/orders.ref.csv" --dest-table x --no-load-timestamp >/dev/null 2>&1
m=$(idlog mark)
erun "4 writers: load" 0 -- ingest --source-uri "$(sa_uri "$SRC")" --source-table sales.orders \
  --dest-uri "$(euri "$DSTK" "$SP_ID:$SP_SECRET" ActiveDirectoryServicePrincipal "&bulk_writers=4")" \
  --dest-table dbo.orders_k --no-load-timestamp --page-size 25
"$tdspipe" ingest --source-uri "$(sa_uri "$DSTK")" --source-table "query:SELECT * FROM dbo.orders_k ORDER BY order_id" \
  --dest-uri "csv://$work/orders.k.csv" --dest-table x --no-load-timestamp >/dev/null 2>&1
same_file "4 writers: every row once" orders.ref.csv orders.k.csv
expect_req "4 writers: one token for every login (the rest from the cache)" "$m" 1 kind=token "form.client_id=$SP_ID" status=200
expect_req "4 writers: nothing else asked for a token" "$m" 1
nconn=$(grep "batch: INSERT BULK \[dbo\]\.\[_tdspipe_bulk_orders_k\]" "$dstk_log" | sed 's/.*conn \([0-9]*\):.*/\1/' | sort -u | grep -c '')
[ "$nconn" -ge 2 ] && ok "4 writers: $nconn connections signed in with the token sent rows" ||
  bad "4 writers: $nconn writer connections sent rows, wanted 2 or more"

# ------------------------------------------------ a raw access token (0x01)
TOK=$(idlog token "$SPN")
m=$(idlog mark)
f0=$(fedinfo)
erun "access token: into CSV" 0 -- ingest --source-uri "$(euri "$SRC" ":$TOK" ActiveDirectoryAccessToken)" \
  --source-table dbo.customers --dest-uri "csv://$work/tok.csv" --dest-table x --no-load-timestamp
same_file "access token: CSV rows" ref.csv tok.csv
erun "access token: into the SQL Server destination" 0 -- ingest \
  --source-uri "$(euri "$SRC" ":$TOK" ActiveDirectoryAccessToken)" --source-table dbo.customers \
  --dest-uri "$(euri "$DST" ":$TOK" ActiveDirectoryAccessToken)" --dest-table dbo.entra_tok --no-load-timestamp
readback dbo.entra_tok tok.dst.csv
same_file "access token: destination rows" ref.csv tok.dst.csv
expect_req "access token: no identity request" "$m" 0
same "access token: no FEDAUTHINFO (security-token workflow)" "$(($(fedinfo) - f0))" 0

wait $hang_pid; hang_rc=$?; hang_s=$(($(date +%s) - hang_t0))
idlog set '{"hang": []}'
same "a silent token endpoint: exit 1" "$hang_rc" 1
[ "$hang_s" -le 60 ] && ok "a silent token endpoint: given up within 60 s ($hang_s s)" ||
  bad "a silent token endpoint: $hang_s s"
[ "$(grep -c '' "$work/runs/hang.err")" = 1 ] && ok "a silent token endpoint: one line" ||
  bad "a silent token endpoint: one line" "$(head -c 400 "$work/runs/hang.err")"

secret_scan "$work"/*.csv "$work/bin/az-calls.log"
finish
