#!/usr/bin/env python3
"""Minimal loopback servers for tests/net/test_entra_*.c (H4's full identity
server lives in tests/identity; these only exercise net/entra's HTTP core).

  test_entra_https.py serve CERTDIR LOG [NAME]  HTTPS on 127.0.0.1 (CERTDIR/NAME.pem,.key; NAME server)
  test_entra_https.py proxy LOG           an HTTP CONNECT proxy on 127.0.0.1

Each prints "port N" on stdout once listening and appends one line per
request to LOG ("GET /path", "POST /t/oauth2/v2.0/token grant=..",
"CONNECT host:port"). Only 127.0.0.1 is ever bound or dialled.
"""
import http.server
import json
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse

SECRET = "s3cret &=+%/\u00e9"
COUNTS = {}
LOCK = threading.Lock()


def log(path, line):
    with LOCK, open(path, "a") as f:
        f.write(line + "\n")


def aad_error(code, text):
    return {"error": "invalid_client",
            "error_description": "AADSTS%d: %s\r\nTrace ID: 0000\r\nCorrelation ID: 1111\r\nTimestamp: 2026-01-01 00:00:00Z" % (code, text),
            "error_codes": [code], "trace_id": "0000", "correlation_id": "1111"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        log(self.server.log, "GET " + self.path)
        p = self.path
        if p == "/ok":
            self.reply(200, {"access_token": "tok-ok", "expires_in": 3600})
        elif p == "/slow":
            time.sleep(5)
            self.reply(200, {"access_token": "late", "expires_in": 60})
        elif p == "/big":
            self.reply(200, b"{\"access_token\":\"" + b"x" * (2 << 20) + b"\"}")
        elif p == "/redirect":
            port = self.server.server_address[1]
            self.reply(302, b"", [("Location", "https://127.0.0.1:%d/ok" % port)])
        elif p == "/challenge":
            self.reply(401, b"", [("WWW-Authenticate", "Basic realm=/var/opt/azcmagent/tokens/x.key"),
                                  ("Retry-After", "7")])
        elif p == "/echo-header":
            self.reply(200, {"access_token": self.headers.get("X-Test", "none"), "expires_in": 60})
        else:
            self.reply(404, {"error": "not_found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode(), keep_blank_values=True)
        f = {k: v[0] for k, v in form.items()}
        parts = self.path.split("/")
        tenant = parts[1] if len(parts) > 1 else ""
        log(self.server.log, "POST %s grant=%s ctype=%s" % (self.path, f.get("grant_type"),
                                                             self.headers.get("Content-Type")))
        with LOCK:
            COUNTS[tenant] = COUNTS.get(tenant, 0) + 1
            count = COUNTS[tenant]
        if not self.path.endswith("/oauth2/v2.0/token"):
            return self.reply(404, {"error": "not_found"})
        if tenant == "flaky" and count <= 2:
            return self.reply(503, b"busy", [("Retry-After", "0")])
        if tenant == "down":
            return self.reply(503, b"<html>down</html>")
        if tenant == "throttle":
            return self.reply(429, {"error": "throttled"}, [("Retry-After", "1")])
        self.token(f)

    def token(self, f):
        if f.get("scope") != "https://database.windows.net//.default" or f.get("client_id") != "app-1":
            return self.reply(400, aad_error(500011, "bad scope or client"))
        g = f.get("grant_type")
        if g == "client_credentials" and "client_secret" in f:
            if f["client_secret"] != SECRET:
                return self.reply(401, aad_error(7000215, "Invalid client secret provided."))
            return self.reply(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "tok-secret"})
        if g == "client_credentials" and f.get("client_assertion_type") == \
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return self.reply(200, {"token_type": "Bearer", "expires_in": "3599",
                                    "access_token": "tok-assert." + str(f["client_assertion"].count("."))})
        if g == "password":
            if f.get("username") != "u@example.com" or f.get("password") != SECRET:
                return self.reply(400, aad_error(50126, "Error validating credentials due to invalid username or password."))
            return self.reply(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "tok-pw"})
        return self.reply(400, aad_error(900144, "The request body must contain the following parameter: 'grant_type'."))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(certdir, logpath, cert="server"):
    srv = Server(("127.0.0.1", 0), Handler)
    srv.log = logpath
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certdir + "/" + cert + ".pem", certdir + "/" + cert + ".key")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("port %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


def tunnel(c, logpath):
    req = b""
    while b"\r\n\r\n" not in req:
        chunk = c.recv(4096)
        if not chunk:
            return c.close()
        req += chunk
    line = req.split(b"\r\n")[0].decode()
    log(logpath, line.rsplit(" ", 1)[0])
    method, target = line.split(" ")[:2]
    host, port = target.rsplit(":", 1)
    if method != "CONNECT" or host != "127.0.0.1":
        c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        return c.close()
    u = socket.create_connection((host, int(port)))
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    socks = [c, u]
    while True:
        r, _, _ = select.select(socks, [], [], 10)
        if not r:
            break
        for s in r:
            data = s.recv(65536)
            if not data:
                c.close(), u.close()
                return
            (u if s is c else c).sendall(data)


def proxy(logpath):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    print("port %d" % ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=tunnel, args=(c, logpath), daemon=True).start()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(*sys.argv[2:5])
    else:
        proxy(sys.argv[2])
