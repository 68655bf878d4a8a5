#!/usr/bin/env python3
"""Control-plane benchmark: start N runs of a tiny mapping task through the native API and measure
runs/s end to end and the latency from accepted to running (server timestamps: created_at to
started_at), p50 and p99.

usage: control_plane.py SLUICE_BINARY [N] [CLIENT_THREADS]
Starts its own server on a random port with a fresh data directory; stdlib only."""
import json, os, re, subprocess, sys, tempfile, threading, time, urllib.request
from datetime import datetime

binary = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 8

work = tempfile.mkdtemp(prefix="sluice-bench-")
defs = os.path.join(work, "defs")
os.makedirs(defs)
with open(os.path.join(defs, "tiny.csv"), "w") as f:
    f.write("id,name\n1,a\n")
with open(os.path.join(defs, "tiny.toml"), "w") as f:
    f.write('type = "MTT"\nallow_parallel = true\n[[sources]]\nname = "t"\nformat = "csv"\npath = "tiny.csv"\n'
            '[target]\nformat = "csv"\npath = "${sluice.data_dir}/out/${sluice.run_id}.csv"\n')
env = dict(os.environ, SLUICE_ADMIN_PASSWORD="bench-password", SLUICE_WORKER__CONCURRENCY="4", RUST_LOG="warn")
server = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(work, "data"),
                           "--definitions", defs], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
url = None
for line in server.stdout:
    m = re.match(r"sluice listening on (\S+)", line)
    if m:
        url = m.group(1)
        break

def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())

token = call("POST", "/api/v1/auth/login", {"username": "admin", "password": "bench-password"})["token"]
ids, lock = [], threading.Lock()

def submit(count):
    for _ in range(count):
        run = call("POST", "/api/v1/runs", {"task": "tiny"}, token)
        with lock:
            ids.append(run["id"])

t0 = time.perf_counter()
workers = [threading.Thread(target=submit, args=(n // threads + (1 if i < n % threads else 0),)) for i in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
t_submitted = time.perf_counter() - t0
while True:
    active = call("GET", "/api/v1/runs?state=queued,starting,running,stopping&limit=1", None, token)["runs"]
    if not active:
        break
    time.sleep(0.05)
elapsed = time.perf_counter() - t0

def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))
lat, states = [], {}
for rid in ids:
    r = call("GET", "/api/v1/runs/" + rid, None, token)
    states[r["state"]] = states.get(r["state"], 0) + 1
    lat.append((ts(r["started_at"]) - ts(r["created_at"])).total_seconds() * 1000)
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))]
server.terminate(); server.wait()
print(json.dumps({"runs": n, "client_threads": threads, "states": states,
                  "submit_rps": round(n / t_submitted, 1), "end_to_end_rps": round(n / elapsed, 1),
                  "accepted_to_running_ms": {"p50": round(pct(50), 2), "p99": round(pct(99), 2)}}, indent=2))
