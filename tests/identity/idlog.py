#!/usr/bin/python3
"""idlog.py — the Entra tests' questions to identity_server.py's control
port. Never prints a secret: secrets are compared here or written to a
file for `grep -F -f`.

    idlog.py PORT mark                      entries logged so far (an index)
    idlog.py PORT count SINCE [FILTER…]     entries after SINCE matching
    idlog.py PORT show SINCE [FILTER…]      their non-secret shape, one a line
    idlog.py PORT has SINCE FIELD FILE [FILTER…]
                                            exit 0 when one matching entry's
                                            FIELD equals FILE's contents
                                            (trailing newline ignored)
    idlog.py PORT secrets OUT [FILE…]       every secret the log holds (client
                                            secrets, passwords, assertions,
                                            issued tokens) and FILEs' contents,
                                            one a line, into OUT (mode 600)
    idlog.py PORT set JSON                  POST /_test/set
    idlog.py PORT token RESOURCE [LIFETIME] a token for RESOURCE (stdout: the
                                            test keeps it in a variable)
    idlog.py PORT forge RESOURCE            a token shaped like the server's but
                                            signed by another key (stdout)
    idlog.py PORT reset

FILTER: a.b=V (equal), a.b~V (contains), a.b? (present), a.b! (absent),
on dotted paths of an entry: listener, kind, method, path, status,
query.X, headers.x (lower case), form.X.
"""
import json
import os
import sys
import urllib.parse
import urllib.request

SECRET_FORM = ("client_secret", "password", "client_assertion")
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(port, path, data=None, ctype="application/x-www-form-urlencoded"):
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=data)
    if data is not None:
        req.add_header("Content-Type", ctype)
    with OPENER.open(req, timeout=10) as r:
        return json.load(r)


def field(e, path):
    cur = e
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def matches(e, filters):
    for f in filters:
        for op in ("=", "~"):
            if op in f:
                k, v = f.split(op, 1)
                x = field(e, k)
                if x is None or (op == "=" and str(x) != v) or (op == "~" and v not in str(x)):
                    return False
                break
        else:
            if f.endswith("?") and field(e, f[:-1]) is None:
                return False
            if f.endswith("!") and field(e, f[:-1]) is not None:
                return False
    return True


def shape(e):
    form = {k: ("<%d chars>" % len(v) if k in SECRET_FORM else v) for k, v in e.get("form", {}).items()}
    q = dict(e.get("query", {}))
    heads = {k: v for k, v in e.get("headers", {}).items() if k in ("metadata", "content-type", "user-agent")}
    if "x-identity-header" in e.get("headers", {}):
        heads["x-identity-header"] = "<set>"
    return "%s %s %s %s status=%s query=%s form=%s headers=%s" % (
        e.get("listener"), e.get("kind"), e.get("method"), e.get("path"), e.get("status"), json.dumps(q),
        json.dumps(form), json.dumps(heads))


def forge(resource):
    """A JWT with the server's claims and header shape, signed by a key
    nobody registered: tdstestd must refuse it."""
    import base64
    import time
    import uuid
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    head = {"typ": "JWT", "alg": "RS256", "x5t": b64(b"forged-thumbprint!!!")}
    claims = {"aud": resource, "iss": "https://sts.windows.net/forged/", "iat": now, "nbf": now,
              "exp": now + 3600, "sub": "forged", "oid": str(uuid.uuid4()), "jti": uuid.uuid4().hex}
    signing = b64(json.dumps(head).encode()) + "." + b64(json.dumps(claims).encode())
    print(signing + "." + b64(key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())))
    return 0


def main():
    port, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "reset":
        call(port, "/_test/reset", b"")
        return 0
    if cmd == "set":
        call(port, "/_test/set", args[0].encode(), "application/json")
        return 0
    if cmd == "forge":
        return forge(args[0])
    if cmd == "token":
        form = {"resource": args[0], "kind": "test"}
        if len(args) > 1:
            form["lifetime"] = args[1]
        print(call(port, "/_test/token", urllib.parse.urlencode(form).encode())["access_token"])
        return 0
    log = call(port, "/_test/log")
    if cmd == "mark":
        print(len(log))
        return 0
    if cmd == "secrets":
        out = set()
        for e in log:
            for k in SECRET_FORM:
                v = e.get("form", {}).get(k)
                if v and len(v) >= 6:
                    out.add(v)
            if e.get("issued"):
                out.add(e["issued"])
        for path in args[1:]:
            v = open(path).read().strip()
            if v:
                out.add(v)
        fd = os.open(args[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("".join(s + "\n" for s in sorted(out) if "\n" not in s))
        return 0
    since = int(args[0])
    if cmd == "has":
        want = open(args[2]).read().rstrip("\n")
        sel = [e for e in log[since:] if matches(e, args[3:])]
        return 0 if any(str(field(e, args[1])) == want for e in sel) else 1
    sel = [e for e in log[since:] if matches(e, args[1:])]
    if cmd == "count":
        print(len(sel))
    elif cmd == "show":
        for e in sel:
            print(shape(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
