#!/usr/bin/python3
"""pytds_check.py — log in to tdstestd with pytds (Debian python3-tds, run
with /usr/bin/python3; python3-openssl is needed for TLS) and dump what it
reads as canonical JSON for check_values.py.

  pytds_check.py --host H --port P --user U --password PW --database DB
                 [--mode plain|tls|login-only] [--cafile CA]
                 [--query SQL] [--out FILE] [--expect-fail]

Modes: plain (ENCRYPT_NOT_SUP), tls (ENCRYPT_ON, whole connection, CA and
host name verified), login-only (ENCRYPT_OFF: only LOGIN7 is encrypted).
Exit 0 when everything pytds was asked to do worked.
"""
import argparse
import datetime
import decimal
import json
import sys
import uuid

import pytds


def canon(v):
    """A value as text the way check_values.py expects it (None for NULL)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, datetime.datetime):
        s = "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (v.year, v.month, v.day, v.hour,
                                                    v.minute, v.second, v.microsecond)
        if v.tzinfo is not None:
            off = v.utcoffset()
            mins = int(off.total_seconds() // 60)
            sign = "+" if mins >= 0 else "-"
            mins = abs(mins)
            s += " %s%02d:%02d" % (sign, mins // 60, mins % 60)
        return s
    if isinstance(v, datetime.date):
        return "%04d-%02d-%02d" % (v.year, v.month, v.day)
    if isinstance(v, datetime.time):
        return v.strftime("%H:%M:%S") + ".%06d" % v.microsecond
    if isinstance(v, uuid.UUID):
        return str(v).upper()
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex().upper()
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--database", default=None)
    ap.add_argument("--mode", default="plain", choices=["plain", "tls", "login-only"])
    ap.add_argument("--cafile", default=None)
    ap.add_argument("--query", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--expect-fail", action="store_true",
                    help="succeed only if the login is refused")
    a = ap.parse_args()

    kw = dict(dsn=a.host, port=a.port, user=a.user, password=a.password,
              database=a.database, login_timeout=10, timeout=30,
              autocommit=False, disable_connect_retry=True)
    if a.mode != "plain":
        if not a.cafile:
            sys.exit("pytds_check: --cafile is needed for TLS")
        kw["cafile"] = a.cafile
        kw["enc_login_only"] = a.mode == "login-only"
    try:
        conn = pytds.connect(**kw)
    except Exception as e:  # noqa: BLE001 - we report any failure
        if a.expect_fail:
            print("pytds[%s]: refused as expected: %s" % (a.mode, e))
            return 0
        print("pytds[%s]: connect failed: %r" % (a.mode, e))
        return 1
    if a.expect_fail:
        print("pytds[%s]: login succeeded but should have failed" % a.mode)
        return 1
    result = {"client": "pytds", "mode": a.mode}
    with conn.cursor() as cur:
        cur.execute("SELECT @@VERSION")
        row = cur.fetchone()
        result["version"] = row[0]
        print("pytds[%s]: @@VERSION = %s" % (a.mode, (row[0] or "").splitlines()[0]))
        if a.query:
            cur.execute(a.query)
            result["columns"] = [d[0] for d in cur.description]
            result["rows"] = [[canon(v) for v in r] for r in cur.fetchall()]
            print("pytds[%s]: %d rows, %d columns" % (a.mode, len(result["rows"]),
                                                      len(result["columns"])))
    conn.commit()
    conn.close()
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
