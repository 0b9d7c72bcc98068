#!/usr/bin/env bash
# e2e_entra_errors.sh — Microsoft Entra ID sign-ins (issue 15) where they
# must fail or must not leak, and where a token expires, against the local
# identity server (tests/identity) and tdstestd servers that accept only
# its tokens:
#   * item 7's errors, one line and exit 1: wrong secret (AADSTS7000215),
#     unknown app (700016), wrong password (50126), a certificate Entra
#     does not know (700027), no federated credential (70021); no managed
#     identity (IMDS override on a closed loopback port), said plainly; az
#     missing; az logged out; a token for another audience (18456); an
#     expired raw token; Default with nothing to use (each step named) and
#     with a wrong AZURE_CLIENT_SECRET (the chain stops there);
#   * Interactive, DeviceCode, Integrated refused at once; encrypt=optional,
#     false, disable refused before any secret is sent;
#   * a server naming a non-Microsoft STS (the decoy listener) gets
#     nothing: the secret and password go to AZURE_AUTHORITY_HOST;
#   * IMDS answering 500 then 429 is retried;
#   * /proc/PID/cmdline and /proc/PID/environ of a running load hold no
#     secret; no secret in any stdout, stderr or destination file;
#   * the identity server's certificate verified (SSL_CERT_FILE, SSL_CERT_DIR),
#     HTTPS_PROXY and NO_PROXY honoured (a loopback-only CONNECT proxy);
#   * a --stream (workload identity) whose polls outlive the token's
#     lifetime keeps polling with fresh tokens (tdstestd refuses an expired
#     one), reading the rotated federated token file.
#
#   tests/cli/e2e_entra_errors.sh BUILD_DIR SRC_DIR
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../identity/netns.sh"
entra_netns "$@"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" entra-errors "$@"
. "$src/tests/identity/entra_env.sh"
cd "$work"

fedauth_server "$src/tests/server/scenarios/demo.json"; SRC=127.0.0.1:$port
SP=ActiveDirectoryServicePrincipal
to_csv() { echo "csv://$work/$1.csv"; }
ing() { echo ingest --source-table dbo.customers --dest-table x --no-load-timestamp; }
# fails NAME MARK: nothing loaded, the message is one line
no_file() { [ ! -e "$work/$1.csv" ] && ok "$1: no destination file" || bad "$1: a destination file was left"; }

# ----------------------------------------------------------- item 7 errors
m=$(idlog mark)
WRONG="Wr0ng~$(rnd 20)"
erun "wrong secret" 1 -- $(ing) --source-uri "$(euri "$SRC" "$SP_ID:$WRONG" $SP)" --dest-uri "$(to_csv wrongsecret)"
one_line "wrong secret"; err_has "wrong secret: AADSTS7000215" "AADSTS7000215"
grep -q "Trace ID" "$work/err" && bad "wrong secret: only the first line of error_description" || ok "wrong secret: no trace lines"
no_file wrongsecret
expect_req "wrong secret: asked the token endpoint once (no retry of a refusal)" "$m" 1 kind=token status=401
erun "unknown application" 1 -- $(ing) --source-uri "$(euri "$SRC" "0a1b2c3d-0000-4000-8000-0000000000ff:$SP_SECRET" $SP)" \
  --dest-uri "$(to_csv unknownapp)"
one_line "unknown application"; err_has "unknown application: AADSTS700016" "AADSTS700016"
erun "wrong password" 1 -- $(ing) --source-uri "$(euri "$SRC" "$ENTRA_USER_ENC:Wr0ng-$(rnd 12)" ActiveDirectoryPassword)" \
  --dest-uri "$(to_csv wrongpw)"
grep -v -iE "retir|deprecat" "$work/err" >"$work/err.nowarn"; mv "$work/err.nowarn" "$work/err"
one_line "wrong password (besides the retirement warning)"; err_has "wrong password: AADSTS50126" "AADSTS50126"
erun "certificate Entra does not know" 1 -- $(ing) \
  --source-uri "$(euri "$SRC" "$CERT_ID" $SP "&clientcertpath=$work/other.pem")" --dest-uri "$(to_csv badcert)"
one_line "unknown certificate"; err_has "unknown certificate: AADSTS700027" "AADSTS700027"
erun "no federated credential" 1 AZURE_FEDERATED_TOKEN_FILE="$work/other-federated.tok" AZURE_CLIENT_ID="$WI_ID" \
  AZURE_TENANT_ID="$TENANT" -- $(ing) --source-uri "$(euri "$SRC" "" ActiveDirectoryWorkloadIdentity)" --dest-uri "$(to_csv nofic)"
one_line "no federated credential"; err_has "no federated credential: AADSTS70021" "AADSTS70021"

m=$(idlog mark)
erun "no managed identity (IMDS override on a closed port)" 1 -- $(ing) \
  --source-uri "$(euri "$SRC" "" ActiveDirectoryManagedIdentity)" --dest-uri "$(to_csv nomi)"
one_line "no managed identity"; err_has "no managed identity: said plainly" "managed identity"
grep -q AADSTS "$work/err" && bad "no managed identity: no AADSTS code invented" || ok "no managed identity: no AADSTS code invented"
[ "$ms" -lt 20000 ] && ok "no managed identity: fails within 20 s ($ms ms)" || bad "no managed identity: took $ms ms"
no_file nomi

erun "az missing" 1 PATH=/usr/bin:/bin -- $(ing) --source-uri "$(euri "$SRC" "" ActiveDirectoryAzCli)" --dest-uri "$(to_csv noaz)"
if env PATH=/usr/bin:/bin sh -c 'command -v az' >/dev/null; then echo "skip: a real az is in /usr/bin"; else
  one_line "az missing"; err_has "az missing: names the Azure CLI" "azure cli|\baz\b"; fi
az_logout
erun "az logged out" 1 -- $(ing) --source-uri "$(euri "$SRC" "" ActiveDirectoryAzCli)" --dest-uri "$(to_csv azout)"
one_line "az logged out"; err_has "az logged out: says to run az login" "az login"

TOK=$(idlog token https://management.azure.com/)
erun "token for another audience" 1 -- $(ing) --source-uri "$(euri "$SRC" ":$TOK" ActiveDirectoryAccessToken)" \
  --dest-uri "$(to_csv wrongaud)"
one_line "wrong audience"; err_has "wrong audience: the server's 18456" "18456"
TOK=$(idlog forge "$SPN")
erun "forged token (another key, right audience)" 1 -- $(ing) \
  --source-uri "$(euri "$SRC" ":$TOK" ActiveDirectoryAccessToken)" --dest-uri "$(to_csv forged)"
one_line "forged token"; err_has "forged token: the server's 18456" "18456"
TOK=$(idlog token "$SPN" 1)
sleep 2
erun "expired access token" 1 -- $(ing) --source-uri "$(euri "$SRC" ":$TOK" ActiveDirectoryAccessToken)" \
  --dest-uri "$(to_csv expired)"
one_line "expired access token"; err_has "expired access token: says it expired" "expire"

# ------------------------------------------------------- Default's chain
m=$(idlog mark)
erun "Default with nothing to use" 1 -- $(ing) --source-uri "$(euri "$SRC" "" ActiveDirectoryDefault)" \
  --dest-uri "$(to_csv nodefault)"
one_line "Default with nothing"
err_has "Default with nothing: the environment step" "environment|AZURE_CLIENT"
err_has "Default with nothing: the workload identity step" "workload"
err_has "Default with nothing: the managed identity step" "managed identity"
err_has "Default with nothing: the Azure CLI step" "azure cli|\baz\b"
az_login
a0=$(az_calls)
m=$(idlog mark)
erun "Default with a wrong AZURE_CLIENT_SECRET stops there" 1 AZURE_TENANT_ID="$TENANT" AZURE_CLIENT_ID="$SP_ID" \
  AZURE_CLIENT_SECRET="$WRONG" AZURE_POD_IDENTITY_AUTHORITY_HOST="http://127.0.0.1:$IDP" -- $(ing) \
  --source-uri "$(euri "$SRC" "" ActiveDirectoryDefault)" --dest-uri "$(to_csv defwrong)"
one_line "Default, wrong secret"; err_has "Default, wrong secret: AADSTS7000215" "AADSTS7000215"
same "Default, wrong secret: az not tried" "$(az_calls)" "$a0"
expect_req "Default, wrong secret: managed identity not tried" "$m" 0 kind=imds

# azidentity probes IMDS briefly inside Default: a silent one is passed over
idlog set '{"hang": ["imds"]}'
erun "Default: a silent IMDS is passed over for az" 0 AZURE_POD_IDENTITY_AUTHORITY_HOST="http://127.0.0.1:$IDP" -- \
  $(ing) --source-uri "$(euri "$SRC" "" ActiveDirectoryDefault)" --dest-uri "$(to_csv silentimds)"
[ "$ms" -lt 10000 ] && ok "Default: the IMDS probe is short ($ms ms)" || bad "Default: the IMDS probe took $ms ms"
idlog set '{"hang": []}'
az_logout

# ----------------------------------------------------------- refusals
for meth in ActiveDirectoryInteractive ActiveDirectoryDeviceCode ActiveDirectoryDeviceCodeFlow ActiveDirectoryIntegrated; do
  m=$(idlog mark)
  erun "$meth refused" nz -- $(ing) --source-uri "$(euri "$SRC" "$ENTRA_USER_ENC" "$meth")" --dest-uri "$(to_csv refused)"
  one_line "$meth"
  short=${meth#ActiveDirectory}; short=${short%Flow}
  err_has "$meth: names the method" "$short"
  err_has "$meth: says what to use instead" "ServicePrincipal|ManagedIdentity|AzCli|Default|WorkloadIdentity|AccessToken"
  [ "$ms" -lt 3000 ] && ok "$meth: at once ($ms ms)" || bad "$meth: took $ms ms"
  expect_req "$meth: no identity request" "$m" 0
done
for enc in optional false disable no; do
  m=$(idlog mark)
  erun "encrypt=$enc refused with a secret" nz -- $(ing) \
    --source-uri "mssql://$SP_ID:$SP_SECRET@$SRC/demo?encrypt=$enc&Authentication=$SP" --dest-uri "$(to_csv enc)"
  one_line "encrypt=$enc"; err_has "encrypt=$enc: says why" "encrypt"
  expect_req "encrypt=$enc: the secret was not sent" "$m" 0
done
no_file enc

# ------------------------------------- an STS URL naming a non-Microsoft host
fedauth_server "$src/tests/server/scenarios/demo.json" "https://127.0.0.1:$DECOY/$TENANT"; EVIL=127.0.0.1:$port
m=$(idlog mark)
erun "hostile STS URL: service principal" 0 -- $(ing) --source-uri "$(euri "$EVIL" "$SP_ID:$SP_SECRET" $SP)" \
  --dest-uri "$(to_csv evil1)"
erun "hostile STS URL: password" 0 -- $(ing) \
  --source-uri "$(euri "$EVIL" "$ENTRA_USER_ENC:$USER_PW_ENC" ActiveDirectoryPassword)" --dest-uri "$(to_csv evil2)"
expect_req "hostile STS URL: the decoy saw no connection" "$m" 0 listener=decoy
expect_req "hostile STS URL: AZURE_AUTHORITY_HOST got both, the tenant from the STS URL" "$m" 2 \
  listener=https "path=/$TENANT/oauth2/v2.0/token" status=200

# ------------------------------------ trust store and proxy (item 3)
m=$(idlog mark)
erun "identity server's CA not trusted" 1 SSL_CERT_FILE="$work/certs/ca.pem" -- $(ing) \
  --source-uri "$(euri "$SRC" "$SP_ID:$SP_SECRET" $SP)" --dest-uri "$(to_csv wrongca)"
one_line "untrusted identity server"
expect_req "untrusted identity server: the secret was not sent" "$m" 0 listener=https
mkdir -p "$work/cadir" && cp "$id/ca.pem" "$work/cadir/" && openssl rehash "$work/cadir" 2>/dev/null
erun "SSL_CERT_DIR honoured" 0 -SSL_CERT_FILE SSL_CERT_DIR="$work/cadir" -- $(ing) \
  --source-uri "$(euri "$SRC" "$SP_ID:$SP_SECRET" $SP)" --dest-uri "$(to_csv cadir)"
m=$(idlog mark)
erun "HTTPS_PROXY honoured" 0 HTTPS_PROXY="http://127.0.0.1:$PROXY" -- $(ing) \
  --source-uri "$(euri "$SRC" "$SP_ID:$SP_SECRET" $SP)" --dest-uri "$(to_csv proxy)"
expect_req "HTTPS_PROXY: the token endpoint reached through CONNECT" "$m" 1 listener=proxy method=CONNECT \
  "path=127.0.0.1:$IDH" status=200
expect_req "HTTPS_PROXY: one token request" "$m" 1 kind=token status=200
m=$(idlog mark)
erun "NO_PROXY honoured" 0 HTTPS_PROXY="http://127.0.0.1:$PROXY" NO_PROXY=127.0.0.1 -- $(ing) \
  --source-uri "$(euri "$SRC" "$SP_ID:$SP_SECRET" $SP)" --dest-uri "$(to_csv noproxy)"
expect_req "NO_PROXY: the proxy saw nothing" "$m" 0 listener=proxy

# ----------------------------------------------------- IMDS retries
idlog set '{"imds_fail": [500, 429]}'
m=$(idlog mark)
erun "IMDS 500 then 429 then a token" 0 AZURE_POD_IDENTITY_AUTHORITY_HOST="http://127.0.0.1:$IDP" -- $(ing) \
  --source-uri "$(euri "$SRC" "" ActiveDirectoryManagedIdentity)" --dest-uri "$(to_csv imdsretry)"
expect_req "IMDS retried: three requests" "$m" 3 kind=imds
idlog set '{"imds_fail": []}'

# ------------------------------------------------ secrets of a running load
fault_scenario "$src/tests/server/scenarios/demo.json" "$work/stall.json" stall_after_rows 5
fedauth_server "$work/stall.json"; STALL=127.0.0.1:$port
# sample PID: the running load's argv and environment hold no secret
sample() {
  local name=$1 tp=$2 since=$3
  for _ in $(seq 100); do [ "$(idlog count "$since" status=200)" -ge 1 ] && break; sleep 0.1; done
  sleep 0.7
  tr '\0' '\n' </proc/"$tp"/cmdline >"$work/cmdline" 2>/dev/null
  tr '\0' '\n' </proc/"$tp"/environ >"$work/environ" 2>/dev/null
  [ -s "$work/cmdline" ] && ok "$name: /proc/PID/cmdline read" || bad "$name: the load was not running"
  idlog secrets "$work/secrets.now" "$work/sp.secret" "$work/user.pw"
  grep -qF -f "$work/secrets.now" "$work/cmdline" && bad "$name: a secret in /proc/PID/cmdline" ||
    ok "$name: no secret in /proc/PID/cmdline"
  grep -v -e '^AZURE_CLIENT_SECRET=' -e '^AZURE_PASSWORD=' "$work/environ" | grep -qF -f "$work/secrets.now" &&
    bad "$name: a secret in /proc/PID/environ (besides AZURE_*)" || ok "$name: no URI secret in /proc/PID/environ"
  kill -TERM "$tp"; wait "$tp"
  same "$name: SIGTERM ends it with 1" "$?" 1
}
m=$(idlog mark)
env -i "${ENV_BASE[@]}" "$tdspipe" ingest --source-uri "$(euri "$STALL" "$SP_ID:$SP_SECRET" $SP)" \
  --source-table sales.orders --dest-uri "$(to_csv stall1)" >"$work/runs/stall1.out" 2>"$work/runs/stall1.err" &
sample "secret in argv" $! "$m"
m=$(idlog mark)
env -i "${ENV_BASE[@]}" SOURCE_URI="$(euri "$STALL" "$ENTRA_USER_ENC:$USER_PW_ENC" ActiveDirectoryPassword)" "$tdspipe" \
  ingest --source-table sales.orders --dest-uri "$(to_csv stall2)" >"$work/runs/stall2.out" 2>"$work/runs/stall2.err" &
sample "password in SOURCE_URI" $! "$m"
TOK=$(idlog token "$SPN")
m=$(idlog mark)
env -i "${ENV_BASE[@]}" "$tdspipe" ingest --source-uri "$(euri "$STALL" ":$TOK" ActiveDirectoryAccessToken)" \
  --source-table sales.orders --dest-uri "$(to_csv stall3)" >"$work/runs/stall3.out" 2>"$work/runs/stall3.err" &
tp=$!
sleep 1.5
tr '\0' '\n' </proc/$tp/cmdline | grep -qF "$TOK" && bad "access token in /proc/PID/cmdline" ||
  ok "access token hidden in /proc/PID/cmdline"
kill -TERM $tp; wait $tp

# ----------------------------------- a stream that outlives its tokens
LIFE=8
python3 - "$src/tests/server/scenarios/ct.json" "$work/ct.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["logins"].append({"token": "*"})
json.dump(s, open(sys.argv[2], "w"))
PY
fedauth_server "$work/ct.json" "" --verbose; CT=127.0.0.1:$port; ct_log=$srv_err
# (no --metrics-addr here: with it, a stream idles in its wait until a
# scrape arrives — see the report; the server's log counts the logins)
idlog set "{\"lifetime\": $LIFE}"
m=$(idlog mark)
# workload identity: the token file is rotated half-way (AKS rotates it);
# each token request must read it anew
cp "$work/federated.tok" "$work/wi-stream.tok"
env -i "${ENV_BASE[@]}" AZURE_FEDERATED_TOKEN_FILE="$work/wi-stream.tok" AZURE_CLIENT_ID="$WI_ID" \
  AZURE_TENANT_ID="$TENANT" "$tdspipe" ingest \
  --source-uri "mssql+ct://$CT/ctdb?$TLSQ&Authentication=ActiveDirectoryWorkloadIdentity&poll_interval=300ms" \
  --source-table dbo.orders --dest-uri "sqlite:///$work/ct.db" --stream --progress log \
  >"$work/runs/stream.out" 2>"$work/runs/stream.err" &
sp=$!
logins() { grep -c "LOGIN7:" "$ct_log"; }
sleep 3
p0=$(logins)
sleep $((LIFE / 2))
cp "$work/rotated-federated.tok" "$work/wi-stream.tok.new" && mv "$work/wi-stream.tok.new" "$work/wi-stream.tok"
m_rot=$(idlog mark)
sleep $((LIFE * 3 / 2 + 3))
p1=$(logins)
kill -TERM $sp; wait $sp; src_rc=$?
idlog set '{"lifetime": 3600}'
n_tok=$(idlog count "$m" kind=token status=200)
[ "$p1" -gt "$((p0 + 10))" ] && ok "stream: kept logging in past the tokens' lifetime ($p0 → $p1 logins)" ||
  bad "stream: logins $p0 → $p1" "$(tail -3 "$work/runs/stream.err")"
grep -qiE "poll failed|18456|login failed" "$work/runs/stream.err" &&
  bad "stream: a poll failed" "$(grep -m1 -iE "poll failed|18456|login failed" "$work/runs/stream.err" | cut -c1-300)" ||
  ok "stream: no poll failed (each login had a live token)"
[ "$n_tok" -ge 2 ] && ok "stream: a fresh token after expiry ($n_tok token requests in $((LIFE * 2 + 6)) s)" ||
  bad "stream: $n_tok token requests"
[ "$n_tok" -lt "$(( (p1 + 1) / 2))" ] && ok "stream: tokens reused between polls ($n_tok for $p1 logins)" ||
  bad "stream: $n_tok token requests for $p1 logins (no cache?)"
expect_has "stream: the rotated federated token was read for the next token" "$m_rot" form.client_assertion \
  "$work/rotated-federated.tok" kind=token status=200
same "stream: SIGTERM exit 0" "$src_rc" 0
[ -s "$work/ct.db" ] && ok "stream: wrote its destination" || bad "stream: no destination"

secret_scan "$work"/*.csv "$work/ct.db"
finish
