#!/usr/bin/python3
"""identity_server.py — a local Microsoft Entra ID stand-in for the Entra
tests (issue 15). Listens on 127.0.0.1 only and never talks to anything.

    identity_server.py --dir DIR --config CONFIG.json [--token-lifetime S]

Owns, on four ports printed as one JSON line on stdout
({"https": N, "http": N, "decoy": N, "proxy": N, "tenant": "..."}):

* https (a test CA made at start: DIR/ca.pem; clients use SSL_CERT_FILE):
  the v2.0 token endpoint POST /{tenant}/oauth2/v2.0/token —
  client_credentials with client_secret, with a client_assertion JWT
  (RS256, x5t = base64url SHA-1 of the registered certificate, aud = this
  endpoint's URL, iss = sub = client id, exp/nbf checked, signature
  verified), with a federated token (workload identity: the assertion
  must equal a registered one), and grant_type=password. Errors are
  Entra-shaped JSON (error, error_description "AADSTSnnn: …\\r\\nTrace ID:
  …", error_codes, timestamp, trace_id, correlation_id, error_uri).
* http (plain, as on a VM or in App Service):
  GET /metadata/identity/oauth2/token        IMDS (Metadata: true required)
  GET /msi/token                             App Service IDENTITY_ENDPOINT
                                             (X-IDENTITY-HEADER, 2019-08-01)
  POST /cloudshell/token                     Cloud Shell MSI_ENDPOINT
  and the test's control API (never used by the client under test):
  GET /_test/log       every request recorded so far (JSON, secrets
                       included: for assertions, never printed)
  POST /_test/reset    forget the log
  POST /_test/set      JSON: {"lifetime": S, "imds_fail": [500, 429, …],
                       "mi_system": bool, "hang": ["token", "imds", …]}
                       (hang: those endpoints — or "token:<client id>" —
                       answer nothing until the list no longer names
                       them, or for 300 s)
  POST /_test/token    form resource=…[&kind=…][&lifetime=S]: a token,
                       as the identity "az" (the stub az uses this)
* decoy (https, same CA): a host a hostile SQL Server could name as its
  STS URL; it records every connection and request and answers 400.
* proxy (plain http): an HTTPS_PROXY. CONNECT to 127.0.0.1 or localhost
  is recorded and tunnelled; any other target, and any plain request, is
  recorded and refused (403/502): nothing leaves the machine.

Tokens are RS256 JWTs signed by the issuer key, whose certificate is
DIR/issuer.pem (tdstestd --fedauth-issuer-cert); aud = the requested
resource, or the scope without "/.default". Nothing here prints a secret:
stdout carries only the ports line, stderr only errors.

CONFIG.json: {"tenant": "…",
  "apps": {"<client id>": {"secret": "…", "cert": "PEM path",
                           "federated": ["token", …]}},
  "users": {"<upn>": "<password>"},
  "mi": {"system": "<client id of the system identity>" | null,
         "user_assigned": ["<client id>", …]},
  "identity_header": "…"}
"""
import argparse
import base64
import select
import datetime
import hashlib
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
import ipaddress

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# ------------------------------------------------------------ certificates
def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_cert(subject_cn, key, issuer_cert=None, issuer_key=None, ca=False, san_ip=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer_cert.subject if issuer_cert else name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san_ip:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(san_ip)), x509.DNSName("localhost")]), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


def pem_cert(c):
    return c.public_bytes(serialization.Encoding.PEM)


def pem_key(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                           serialization.NoEncryption())


def write(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def load_cert_pem(path):
    """The first CERTIFICATE block of a PEM (a client's cert+key file)."""
    return x509.load_pem_x509_certificate(open(path, "rb").read())


# --------------------------------------------------------------- the state
class State:
    def __init__(self, cfg, lifetime):
        self.lock = threading.Lock()
        self.cfg = cfg
        self.tenant = cfg["tenant"]
        self.lifetime = lifetime
        self.imds_fail = []
        self.mi_system = bool(cfg.get("mi", {}).get("system"))
        self.hang = set()
        self.unhang = threading.Condition(self.lock)
        self.log = []
        self.issuer_key = new_key()
        self.issuer_cert = make_cert("tdspipe test Entra issuer", self.issuer_key)
        self.thumbs = {}  # client id -> x5t of its registered certificate
        self.pubkeys = {}
        for cid, app in cfg.get("apps", {}).items():
            if app.get("cert"):
                c = load_cert_pem(app["cert"])
                self.thumbs[cid] = b64url(hashlib.sha1(c.public_bytes(serialization.Encoding.DER)).digest())
                self.pubkeys[cid] = c.public_key()

    def record(self, rec):
        with self.lock:
            self.log.append(rec)

    def issue(self, aud, sub, extra=None, lifetime=None):
        now = int(time.time())
        life = int(lifetime if lifetime is not None else self.lifetime)
        x5t = b64url(hashlib.sha1(self.issuer_cert.public_bytes(serialization.Encoding.DER)).digest())
        head = {"typ": "JWT", "alg": "RS256", "x5t": x5t, "kid": x5t}
        claims = {"aud": aud, "iss": "https://sts.windows.net/%s/" % self.tenant, "iat": now, "nbf": now,
                  "exp": now + life, "tid": self.tenant, "sub": sub, "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, sub)),
                  "jti": uuid.uuid4().hex, "ver": "1.0"}
        claims.update(extra or {})
        signing = b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())
        sig = self.issuer_key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing + "." + b64url(sig), life, now + life


def aud_of(scope_or_resource):
    s = scope_or_resource.split(" ")[0]
    return s[:-len("/.default")] if s.endswith("/.default") else s


# ---------------------------------------------------- Entra-shaped errors
ENTRA_ERRORS = {
    7000215: ("invalid_client", 401, "Invalid client secret provided. Ensure the secret being sent in the request "
              "is the client secret value, not the client secret ID, for a secret added to app '{app}'."),
    700016: ("unauthorized_client", 400, "Application with identifier '{app}' was not found in the directory "
             "'{tenant}'. This can happen if the application has not been installed by the administrator of the "
             "tenant or consented to by any user in the tenant."),
    50126: ("invalid_grant", 400, "Error validating credentials due to invalid username or password."),
    700027: ("invalid_client", 401, "Client assertion failed signature validation. {why}"),
    700024: ("invalid_client", 401, "Client assertion is not within its valid time range. {why}"),
    70021: ("invalid_request", 400, "No matching federated identity record found for presented assertion. "
            "Assertion Issuer: 'https://oidc.test'. Assertion Subject: 'system:serviceaccount:default:app'."),
    90002: ("invalid_request", 400, "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."),
    900144: ("invalid_request", 400, "The request body must contain the following parameter: '{why}'."),
    70011: ("invalid_scope", 400, "The provided request must include a 'scope' input parameter. The provided value "
            "for the input parameter 'scope' is not valid. The scope {why} is not valid."),
    7000218: ("invalid_client", 401, "The request body must contain the following parameter: 'client_assertion' or "
              "'client_secret'."),
}


def entra_error(code, **kw):
    err, status, text = ENTRA_ERRORS[code]
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    kw.setdefault("app", "?")
    kw.setdefault("why", "")
    kw.setdefault("tenant", "?")
    desc = "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s" % (
        code, text.format(**kw).strip(), trace, corr, ts)
    return status, {"error": err, "error_description": desc, "error_codes": [code], "timestamp": ts,
                    "trace_id": trace, "correlation_id": corr,
                    "error_uri": "https://login.microsoftonline.com/error?code=%d" % code}


# ------------------------------------------------------- the token endpoint
def check_assertion(st, cid, assertion, endpoint):
    """None when the certificate assertion is good, else (code, why)."""
    try:
        h64, c64, s64 = assertion.split(".")
        head, claims = json.loads(unb64url(h64)), json.loads(unb64url(c64))
        sig = unb64url(s64)
    except (ValueError, TypeError):
        return 700027, "The assertion is not a JWT."
    if head.get("alg") != "RS256" or head.get("x5t") != st.thumbs.get(cid):
        return 700027, "Key was not found (alg %s, thumbprint not registered)." % head.get("alg")
    try:
        st.pubkeys[cid].verify(sig, (h64 + "." + c64).encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return 700027, "The signature does not verify."
    if claims.get("aud") != endpoint:
        return 700027, "Invalid audience."
    if claims.get("iss") != cid or claims.get("sub") != cid:
        return 700027, "Invalid issuer or subject."
    now = time.time()
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now - 30:
        return 700024, "Expired."
    if claims.get("nbf", 0) > now + 300 or claims["exp"] - claims.get("nbf", claims.get("iat", now)) > 3600 * 24:
        return 700024, "Not yet valid or too long."
    if not claims.get("jti"):
        return 700027, "No jti."
    return None


def token_endpoint(st, tenant, form, endpoint):
    """(status, body dict) for POST /{tenant}/oauth2/v2.0/token."""
    if tenant not in (st.tenant, "organizations"):
        return entra_error(90002, tenant=tenant)
    grant, cid = form.get("grant_type", ""), form.get("client_id", "")
    scope = form.get("scope", "")
    if not scope:
        return entra_error(900144, why="scope")
    if grant == "password":
        users = st.cfg.get("users", {})
        if users.get(form.get("username", "")) != form.get("password") or not form.get("password"):
            return entra_error(50126)
        return ok_token(st, aud_of(scope), form["username"], {"upn": form["username"], "appid": cid,
                                                              "idtyp": "user"})
    if grant != "client_credentials":
        return 400, {"error": "unsupported_grant_type", "error_description": "AADSTS70003: unsupported grant",
                     "error_codes": [70003]}
    if not scope.endswith("/.default"):
        return entra_error(70011, why=scope)
    app = st.cfg.get("apps", {}).get(cid)
    if app is None:
        return entra_error(700016, app=cid, tenant=tenant)
    if "client_secret" in form:
        if form["client_secret"] != app.get("secret"):
            return entra_error(7000215, app=cid)
    elif form.get("client_assertion_type") == JWT_BEARER and "client_assertion" in form:
        a = form["client_assertion"]
        if a.count(".") == 2 and cid in st.thumbs and a not in app.get("federated", []):
            bad = check_assertion(st, cid, a, endpoint)
            if bad:
                return entra_error(bad[0], why=bad[1])
        elif a not in app.get("federated", []):
            return entra_error(70021) if app.get("federated") is not None else entra_error(
                700027, why="No certificate is registered.")
    else:
        return entra_error(7000218)
    return ok_token(st, aud_of(scope), cid, {"appid": cid, "idtyp": "app"})


def ok_token(st, aud, sub, extra):
    tok, life, _ = st.issue(aud, sub, extra)
    return 200, {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": tok}


# ------------------------------------------------ managed identity sources
def mi_identity(st, q):
    """(client id, None) of the identity asked for, or (None, message)."""
    mi = st.cfg.get("mi", {})
    cid = q.get("client_id") or q.get("principal_id") or q.get("object_id") or q.get("msi_res_id") or q.get("mi_res_id")
    if cid:
        return (cid, None) if cid in mi.get("user_assigned", []) else (None, "Identity not found")
    if st.mi_system and mi.get("system"):
        return mi["system"], None
    return None, "Identity not found"


def mi_token(st, q, imds_shape):
    cid, why = mi_identity(st, q)
    if not cid:
        return 400, {"error": "invalid_request", "error_description": why}
    res = q.get("resource", "")
    tok, life, exp = st.issue(aud_of(res), cid, {"appid": cid, "idtyp": "app"})
    body = {"access_token": tok, "expires_on": str(exp), "resource": res, "token_type": "Bearer", "client_id": cid}
    if imds_shape:
        body.update({"refresh_token": "", "expires_in": str(life), "ext_expires_in": str(life),
                     "not_before": str(exp - life)})
    return 200, body


# ------------------------------------------------------------ HTTP plumbing
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tdspipe-test-identity/1"

    def log_message(self, *a):  # no request lines on stderr
        pass

    def reply(self, status, body, ctype="application/json; charset=utf-8"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)
        self.rec["status"] = status

    def begin(self, method):
        st = self.server.st
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        self.body = raw
        form = {}
        if raw and "json" not in (self.headers.get("Content-Type") or ""):
            form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        self.q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        self.form = form
        self.upath = u.path
        self.rec = {"t": time.time(), "listener": self.server.name, "method": method, "path": u.path,
                    "query": self.q, "headers": {k.lower(): v for k, v in self.headers.items()},
                    "form": form, "status": None}
        if not self.upath.startswith("/_test/"):
            st.record(self.rec)

    def do_GET(self):
        self.begin("GET")
        self.route()

    def do_POST(self):
        self.begin("POST")
        self.route()

    def do_CONNECT(self):
        st = self.server.st
        self.rec = {"t": time.time(), "listener": self.server.name, "method": "CONNECT", "path": self.path,
                    "query": {}, "headers": {k.lower(): v for k, v in self.headers.items()}, "form": {},
                    "status": None, "kind": "proxy-connect"}
        st.record(self.rec)
        host, _, port = self.path.rpartition(":")
        if self.server.name != "proxy" or host.strip("[]") not in ("127.0.0.1", "localhost") or not port.isdigit():
            self.close_connection = True
            return self.reply(403, {"error": "this test proxy tunnels to loopback only"})
        try:
            up = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
        except OSError:
            self.close_connection = True
            return self.reply(502, {"error": "upstream refused"})
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.rec["status"] = 200
        self.close_connection = True
        tunnel(self.connection, up)

    def route(self):
        st, p, name = self.server.st, self.upath, self.server.name
        if name == "proxy":
            self.close_connection = True
            return self.reply(502, {"error": "this test proxy only tunnels (CONNECT)"})
        if name == "decoy":
            return self.reply(400, {"error": "invalid_request", "error_description": "decoy"})
        if name == "https":
            parts = p.strip("/").split("/")
            if self.command == "POST" and len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
                self.hang_if("token")
                self.hang_if("token:" + self.form.get("client_id", ""))
                endpoint = "https://127.0.0.1:%d%s" % (self.server.server_address[1], p)
                status, body = token_endpoint(st, parts[0], self.form, endpoint)
                self.rec["kind"] = "token"
                if status == 200:
                    self.rec["issued"] = body["access_token"]
                return self.reply(status, body)
            return self.reply(404, {"error": "not_found", "error_description": "AADSTS90000: no such endpoint"})
        return self.route_http(st, p)

    def route_http(self, st, p):
        h = self.headers
        if p == "/metadata/identity/oauth2/token" and self.command == "GET":
            self.rec["kind"] = "imds"
            self.hang_if("imds")
            if h.get("Metadata") != "true":
                return self.reply(400, {"error": "invalid_request",
                                        "error_description": "Required metadata header not specified"})
            if h.get("X-Forwarded-For"):
                return self.reply(400, {"error": "invalid_request", "error_description": "forwarded request"})
            if not self.q.get("api-version"):
                return self.reply(400, {"error": "invalid_request",
                                        "error_description": "Required query variable 'api-version' is missing"})
            with st.lock:
                fail = st.imds_fail.pop(0) if st.imds_fail else None
            if fail:
                return self.reply(fail, {"error": "unknown", "error_description": "injected %d" % fail})
            return self.mi_reply(st, self.q, True)
        if p == "/msi/token" and self.command == "GET":
            self.rec["kind"] = "appservice"
            self.hang_if("appservice")
            if h.get("X-IDENTITY-HEADER") != st.cfg.get("identity_header") or not h.get("X-IDENTITY-HEADER"):
                return self.reply(401, {"statusCode": 401, "message": "Unauthorized: X-IDENTITY-HEADER"})
            if self.q.get("api-version") != "2019-08-01":
                return self.reply(400, {"statusCode": 400, "message": "api-version is 2019-08-01"})
            return self.mi_reply(st, self.q, False)
        if p == "/cloudshell/token" and self.command == "POST":
            self.rec["kind"] = "cloudshell"
            if h.get("Metadata") != "true":
                return self.reply(400, {"error": "invalid_request",
                                        "error_description": "Required metadata header not specified"})
            return self.mi_reply(st, dict(self.q, **self.form), True)
        return self.control(st, p)

    def hang_if(self, kind):
        """Hold this request while the test says the endpoint hangs."""
        st = self.server.st
        end = time.time() + 300
        with st.lock:
            while kind in st.hang and time.time() < end:
                st.unhang.wait(1)

    def mi_reply(self, st, q, imds_shape):
        status, body = mi_token(st, q, imds_shape)
        if status == 200:
            self.rec["issued"] = body["access_token"]
        return self.reply(status, body)

    def control(self, st, p):
        if p == "/_test/log":
            with st.lock:
                return self.reply(200, list(st.log))
        if p == "/_test/reset" and self.command == "POST":
            with st.lock:
                st.log.clear()
            return self.reply(200, {})
        if p == "/_test/set" and self.command == "POST":
            c = json.loads(self.body or b"{}")
            with st.lock:
                st.lifetime = int(c.get("lifetime", st.lifetime))
                st.imds_fail = list(c.get("imds_fail", st.imds_fail))
                st.mi_system = bool(c.get("mi_system", st.mi_system))
                st.hang = set(c.get("hang", st.hang))
                st.unhang.notify_all()
            return self.reply(200, {})
        if p == "/_test/token" and self.command == "POST":
            f = self.form
            life = int(f["lifetime"]) if f.get("lifetime") else None
            tok, life, exp = st.issue(aud_of(f.get("resource", "")), f.get("sub", "az-user@contoso.test"),
                                      {"idtyp": "user"}, life)
            st.record({"t": time.time(), "listener": "http", "method": "POST", "path": p, "kind": f.get("kind", "az"),
                       "query": {}, "headers": {}, "form": f, "status": 200, "issued": tok})
            return self.reply(200, {"access_token": tok, "expires_in": life, "expires_on": exp})
        return self.reply(404, {"error": "not_found"})


def tunnel(a, b):
    """Bytes both ways until either side closes."""
    a.settimeout(None)
    b.settimeout(None)
    try:
        while True:
            r, _, _ = select.select([a, b], [], [], 30)
            if not r:
                return
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return
    finally:
        b.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name, st, tls=None):
        self.name, self.st, self.tls = name, st, tls
        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.name == "decoy":  # record the connection itself, before any TLS
            self.st.record({"t": time.time(), "listener": "decoy", "method": "CONNECT", "path": "", "query": {},
                            "headers": {}, "form": {}, "status": None, "kind": "decoy-connection"})
        if self.tls:
            sock.settimeout(10)
            try:
                sock = self.tls.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                sock.close()
                raise OSError("TLS handshake failed")
            sock.settimeout(None)
        return sock, addr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, help="writes ca.pem, issuer.pem (certificates only) here")
    ap.add_argument("--config", required=True)
    ap.add_argument("--token-lifetime", type=int, default=3600)
    a = ap.parse_args()
    cfg = json.load(open(a.config))
    st = State(cfg, a.token_lifetime)
    os.makedirs(a.dir, exist_ok=True)
    ca_key = new_key()
    ca = make_cert("tdspipe test identity CA", ca_key, ca=True)
    leaf_key = new_key()
    leaf = make_cert("localhost", leaf_key, ca, ca_key, san_ip="127.0.0.1")
    write(os.path.join(a.dir, "ca.pem"), pem_cert(ca), 0o644)
    write(os.path.join(a.dir, "issuer.pem"), pem_cert(st.issuer_cert), 0o644)
    write(os.path.join(a.dir, "identity-server.pem"), pem_cert(leaf) + pem_key(leaf_key))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.path.join(a.dir, "identity-server.pem"))
    servers = {"https": Server("https", st, tls), "http": Server("http", st), "decoy": Server("decoy", st, tls),
               "proxy": Server("proxy", st)}
    for s in servers.values():
        threading.Thread(target=s.serve_forever, daemon=True).start()
    ports = {k: s.server_address[1] for k, s in servers.items()}
    ports["tenant"] = st.tenant
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    main()
