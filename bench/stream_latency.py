#!/usr/bin/python3
"""stream_latency.py — end-to-end streaming latency (run by stream_latency.sh).

    stream_latency.py BUILD_DIR ct|cdc [RATE] [SECONDS] [POLL]

A tdstestd with one tracked (ct) or captured (cdc, immediate capture) empty
table; `tdspipe ingest --stream` into DuckDB with poll_interval=POLL
(default 100ms) and --progress json; a writer inserts RATE rows per second
(default 1000) for SECONDS (default 20), one row per transaction, ids in
commit order, noting when each commit returned. Every stream event comes
after its commit with the total rows applied so far; inserts are applied in
commit order, so row i is in DuckDB at the first event whose total reaches
i. Latency of a change = that event's arrival - its commit's return.
Prints the median, p90, p99 and max, and the rate achieved.
"""
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import pytds

BUILD, KIND = sys.argv[1], sys.argv[2]
RATE = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
SECONDS = float(sys.argv[4]) if len(sys.argv) > 4 else 20
POLL = sys.argv[5] if len(sys.argv) > 5 else "100ms"
PASSWORD = "Passw0rd!"

t = {"name": "ev", "columns": [{"name": "id", "type": "int", "nullable": False},
                               {"name": "payload", "type": "nvarchar(40)", "nullable": True}],
     "primary_key": ["id"], "data": []}
db = {"name": "bdb", "snapshot_isolation": True, "tables": [t]}
if KIND == "ct":
    t["change_tracking"] = True
    db["change_tracking"] = {"enabled": True, "retention_days": 2, "auto_cleanup": True}
else:
    db["cdc"] = {"enabled": True, "capture": "immediate", "tables": [{"name": "ev"}]}
scenario = {"server": {"name": "tdstestd"}, "logins": [{"user": "sa", "password": PASSWORD, "database": "bdb"}],
            "databases": [db]}

work = tempfile.mkdtemp(prefix="stream_latency_")
path = os.path.join(work, "scenario.json")
with open(path, "w") as f:
    json.dump(scenario, f)
die = lambda: ctypes.CDLL("libc.so.6").prctl(1, 15)  # noqa: E731
srv = subprocess.Popen([os.path.join(BUILD, "tdstestd"), "--scenario", path, "--port", "0"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, preexec_fn=die)
port = int(srv.stdout.readline().split()[1])
uri = "mssql+%s://sa:Passw0rd%%21@127.0.0.1:%d/bdb?encrypt=disable&poll_interval=%s" % (KIND, port, POLL)
st = subprocess.Popen([os.path.join(BUILD, "tdspipe"), "ingest", "--source-uri", uri, "--source-table", "dbo.ev",
                       "--dest-uri", "duckdb:///" + os.path.join(work, "d.duckdb"), "--stream", "--progress", "json"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
events = []  # (arrival, total rows)


def reader():
    for line in st.stderr:
        now = time.monotonic()
        if line.startswith("{"):
            e = json.loads(line)
            if e.get("event") == "stream":
                events.append((now, e["rows"]))


th = threading.Thread(target=reader, daemon=True)
th.start()
while not events:  # the first poll (empty snapshot) committed
    time.sleep(0.05)
base = events[-1][1]
con = pytds.connect(server="127.0.0.1", port=port, user="sa", password=PASSWORD, database="bdb", autocommit=True)
cur = con.cursor()
commits = []
start = time.monotonic()
n = int(RATE * SECONDS)
for i in range(1, n + 1):
    due = start + (i - 1) / RATE
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    cur.execute("INSERT INTO ev (id, payload) VALUES (%d, N'payload %d')" % (i, i))
    commits.append(time.monotonic())
achieved = n / (commits[-1] - start)
deadline = time.monotonic() + 60
while (not events or events[-1][1] - base < n) and time.monotonic() < deadline:
    time.sleep(0.05)
st.terminate()
rc = st.wait()
th.join(timeout=5)
srv.terminate()
srv.wait()
lat = []
j = 0
ev = [(a, r - base) for a, r in events]
for i, c in enumerate(commits, 1):
    while j < len(ev) and ev[j][1] < i:
        j += 1
    if j == len(ev):
        break
    lat.append(ev[j][0] - c)
lat.sort()
if len(lat) < n:
    print("only %d of %d changes arrived" % (len(lat), n))
    sys.exit(1)


def pct(p):
    return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] * 1000


print("%s: %d changes at %.0f/s (asked %d/s), poll_interval=%s, exit %d: latency ms median %.1f p90 %.1f p99 %.1f "
      "max %.1f; %d polls" % (KIND, n, achieved, RATE, POLL, rc, pct(50), pct(90), pct(99), lat[-1] * 1000,
                              len(events)))
