# tests/identity/entra_env.sh — what tests/cli/e2e_entra*.sh share, sourced
# after tests/cli/lib.sh: fresh secrets, certificates and a federated token
# for this run; the identity server (identity_server.py) and its CA; the
# stub az in $work/bin; tdstestd servers that accept only that server's
# tokens (TLS, FEDAUTHINFO naming it as the STS); erun, which runs tdspipe
# in a clean environment whose every identity endpoint is 127.0.0.1.
#
# Before lib.sh the scripts source tests/identity/netns.sh and call
# `entra_netns "$@"` (a private network namespace when allowed).

idpy=$src/tests/identity
id=$work/identity
mkdir -p "$id" "$work/bin" "$work/home" "$work/runs"
chmod 700 "$work"
TENANT=72f988bf-86f1-41af-91ab-2d7cd011e2e1
SPN=https://database.windows.net/
SP_ID=0a1b2c3d-0000-4000-8000-00000000a001     # service principal with a secret
CERT_ID=0a1b2c3d-0000-4000-8000-00000000a002   # service principal with a certificate
WI_ID=0a1b2c3d-0000-4000-8000-00000000a003     # workload identity (federated credential)
UAMI_ID=0a1b2c3d-0000-4000-8000-00000000a004   # user-assigned managed identity
UAMI_RES=/subscriptions/5b1d1f6e-0000-4000-8000-00000000c001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/tdspipe-uami
UAMI_RES_ENC=%2Fsubscriptions%2F5b1d1f6e-0000-4000-8000-00000000c001%2FresourceGroups%2Frg%2Fproviders%2FMicrosoft.ManagedIdentity%2FuserAssignedIdentities%2Ftdspipe-uami
MI_SYS=0a1b2c3d-0000-4000-8000-00000000a005    # the system-assigned identity
HANG_ID=0a1b2c3d-0000-4000-8000-00000000a006   # an app whose token requests get no answer
ENTRA_USER=alice@contoso.test
ENTRA_USER_ENC=alice%40contoso.test
rnd() { python3 -c 'import secrets; print(secrets.token_urlsafe(int(__import__("sys").argv[1])))' "${1:-24}"; }
SP_SECRET="Q8~$(rnd).x$(rnd 6)"                  # the shape of an Entra secret value
USER_PW="Pw.$(rnd 18)!"                          # '!' is %21 in a URI
USER_PW_ENC="${USER_PW%!}%21"
IDHDR=$(rnd 20)
printf 'eyJhbGciOiJSUzI1NiJ9.%s.%s\n' "$(rnd 60)" "$(rnd 40)" >"$work/federated.tok"
printf 'eyJhbGciOiJSUzI1NiJ9.%s.%s\n' "$(rnd 60)" "$(rnd 40)" >"$work/other-federated.tok"
printf 'eyJhbGciOiJSUzI1NiJ9.%s.%s\n' "$(rnd 60)" "$(rnd 40)" >"$work/rotated-federated.tok"
printf '%s\n' "$SP_SECRET" >"$work/sp.secret"
printf '%s\n' "$USER_PW" >"$work/user.pw"
printf '%s\n' "$IDHDR" >"$work/idhdr"
mkcert() { # NAME: NAME.pem holds a self-signed certificate and its key
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/$1.key" -out "$work/$1.crt" -days 2 \
    -subj "/CN=tdspipe-$1" 2>/dev/null && cat "$work/$1.crt" "$work/$1.key" >"$work/$1.pem" && chmod 600 "$work/$1.pem"
}
mkcert sp && mkcert other || { echo "FAIL openssl cannot make the test certificates"; exit 1; }
sh "$src/tests/server/certs.sh" "$work/certs" >/dev/null 2>&1 || { echo "FAIL certs.sh"; exit 1; }
python3 - "$work/identity.json" <<PY
import json, sys
json.dump({"tenant": "$TENANT",
           "apps": {"$SP_ID": {"secret": "$SP_SECRET"}, "$HANG_ID": {"secret": "$SP_SECRET"}, "$CERT_ID": {"cert": "$work/sp.pem"},
                    "$WI_ID": {"federated": [open("$work/federated.tok").read().strip(),
                                         open("$work/rotated-federated.tok").read().strip()]}},
           "users": {"$ENTRA_USER": "$USER_PW"},
           "mi": {"system": "$MI_SYS", "user_assigned": ["$UAMI_ID", "$UAMI_RES"]},
           "identity_header": "$IDHDR"}, open(sys.argv[1], "w"))
PY
chmod 600 "$work/identity.json"
/usr/bin/python3 "$idpy/identity_server.py" --dir "$id" --config "$work/identity.json" >"$id/ports" 2>"$id/err" &
pids+=($!)
for _ in $(seq 200); do grep -q https "$id/ports" 2>/dev/null && break; sleep 0.05; done
read -r IDH IDP DECOY PROXY < <(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(p["https"], p["http"], p["decoy"], p["proxy"])' "$id/ports" 2>/dev/null)
[ -n "${IDH:-}" ] || { echo "FAIL identity server did not start"; cat "$id/err"; exit 1; }
# a loopback port nobody listens on: "no managed identity here"
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
idlog() { /usr/bin/python3 "$idpy/idlog.py" "$IDP" "$@"; }

# the stub az (logged out until az_login)
ln -s "$idpy/az" "$work/bin/az"
az_login() { printf '{"logged_in": true, "control": "http://127.0.0.1:%s", "user": "az-user@contoso.test", "tenant": "%s", "subscription": "5b1d1f6e-0000-4000-8000-00000000c001"}\n' "$IDP" "$TENANT" >"$work/bin/az-state.json"; }
az_logout() { echo '{"logged_in": false}' >"$work/bin/az-state.json"; }
az_calls() { grep -c '"get-access-token"' "$work/bin/az-calls.log" 2>/dev/null || echo 0; }
az_logout

# fedauth_server SCENARIO [STS_URL] [more tdstestd flags]: a TLS tdstestd
# accepting only this identity server's tokens for $SPN → sets port
fedauth_server() {
  local scen=$1 sts=${2:-https://127.0.0.1:$IDH/$TENANT}
  shift; [ $# -gt 0 ] && shift
  start_server "$scen" --tls-cert "$work/certs/server.pem" --tls-key "$work/certs/server.key" \
    --fedauth-issuer-cert "$id/issuer.pem" --fedauth-audience "$SPN" --fedauth-sts-url "$sts" \
    --fedauth-spn "$SPN" --fedauth-tenant "$TENANT" "$@"
}
TLSQ="encrypt=true&cafile=$work/certs/ca.pem"
# euri HOSTPORT USERINFO METHOD [EXTRA]: an Entra URI for database demo
euri() { echo "mssql://${2}${2:+@}$1/demo?$TLSQ&Authentication=$3${4:-}"; }
sa_uri() { echo "mssql://sa:Passw0rd%21@$1/demo?$TLSQ"; }

# erun NAME RC [VAR=VALUE…] -- tdspipe ARGS…: tdspipe in a clean
# environment (identity endpoints on loopback, the identity CA trusted,
# the IMDS override on a closed port unless VARs say otherwise); rc, time
# in $ms, stdout/stderr in $work/out, $work/err (and kept for the secret
# scan in $work/runs)
# the clean environment of every tdspipe run (eenv: add VARs after it)
ENV_BASE=(PATH="$work/bin:/usr/bin:/bin" HOME="$work/home" LANG=C.UTF-8 SSL_CERT_FILE="$id/ca.pem"
  AZURE_AUTHORITY_HOST="https://127.0.0.1:$IDH" AZURE_POD_IDENTITY_AUTHORITY_HOST="http://127.0.0.1:$CLOSED"
  ASAN_OPTIONS="${ASAN_OPTIONS:-}" LSAN_OPTIONS="${LSAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}"
  TDSPIPE_DUCKDB_LIB="${TDSPIPE_DUCKDB_LIB:-}")
n_run=0
# erun NAME RC [VAR=VALUE | -VAR (unset)…] -- ARGS…; RC "nz": any failure status
erun() {
  local name=$1 want=$2; shift 2
  local vars=() drop=" " base=() v
  while [ "$1" != -- ]; do
    case $1 in -*) drop="$drop${1#-} " ;; *) vars+=("$1") ;; esac
    shift
  done
  shift
  for v in "${ENV_BASE[@]}"; do [[ $drop == *" ${v%%=*} "* ]] || base+=("$v"); done
  n_run=$((n_run + 1))
  local t0 t1
  t0=$(date +%s%N)
  env -i "${base[@]}" "${vars[@]}" "$tdspipe" "$@" >"$work/out" 2>"$work/err"
  rc=$?
  t1=$(date +%s%N)
  ms=$(((t1 - t0) / 1000000))
  cp "$work/out" "$work/runs/$n_run.out"
  cp "$work/err" "$work/runs/$n_run.err"
  if [ "$rc" = "$want" ] || { [ "$want" = nz ] && [ "$rc" != 0 ] && [ "$rc" -lt 128 ]; }; then ok "$name (exit $rc)"
  else bad "$name: exit $rc, wanted $want" "$(cut -c1-300 "$work/err")"; fi
}
one_line() { # NAME: the last run's stderr is exactly one line
  [ "$(grep -c '' "$work/err")" = 1 ] && ok "$1: one line" || bad "$1: one line" "$(head -c 600 "$work/err")"
}
err_has() { # NAME REGEX (grep -E -i) on the last run's stderr
  grep -qiE -- "$2" "$work/err" && ok "$1" || bad "$1" "stderr: $(head -c 400 "$work/err")"
}
same_file() { if cmp -s "$2" "$3"; then ok "$1"; else bad "$1" "$(diff "$2" "$3" 2>&1 | head -8 | cut -c1-200)"; fi; }
# expect_req NAME SINCE N FILTER…: N identity-server requests since SINCE match
expect_req() {
  local name=$1 since=$2 n=$3; shift 3
  local got
  got=$(idlog count "$since" "$@")
  if [ "$got" = "$n" ]; then ok "$name"; else bad "$name: $got matching requests, wanted $n" "$(idlog show "$since" | head -6)"; fi
}
# expect_has NAME SINCE FIELD FILE FILTER…: a request carried FILE's secret in FIELD
expect_has() {
  local name=$1 since=$2 fieldn=$3 file=$4; shift 4
  if idlog has "$since" "$fieldn" "$file" "$@"; then ok "$name"; else bad "$name" "$(idlog show "$since" | head -6)"; fi
}
# secret_scan: no secret of this run (those the identity server saw or
# issued, and the test's own) in any tdspipe output or FILE given
secret_scan() {
  idlog secrets "$work/secrets.lst" "$work/sp.secret" "$work/user.pw" "$work/federated.tok" "$work/other-federated.tok" "$work/rotated-federated.tok" "$work/idhdr"
  local n hits
  n=$(grep -c '' "$work/secrets.lst")
  hits=$(grep -lF -f "$work/secrets.lst" "$work/runs/"* "$@" 2>/dev/null | head -5)
  # the key of sp.pem is a secret too: its base64 body must not show either
  local keyline
  keyline=$(sed -n 2p "$work/sp.key")
  [ -n "$keyline" ] && hits="$hits$(grep -lF -- "$keyline" "$work/runs/"* "$@" 2>/dev/null | head -3)"
  if [ -z "$hits" ] && [ "$n" -ge 5 ]; then ok "no secret ($n known) in stdout, stderr or the destinations ($n_run runs)"
  else bad "secrets found (or too few known: $n)" "in: $(echo "$hits" | tr '\n' ' ')"; fi
}
