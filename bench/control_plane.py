#!/usr/bin/env python3
"""Control-plane benchmark: start N runs of a tiny mapping task through the native API and measure
runs/s end to end and the latency from accepted to running (server timestamps: created_at to
started_at), p50 and p99.

usage: control_plane.py SLUICE_BINARY [N] [CLIENT_THREADS] [--store sqlite|postgres] [--nodes K]
                        [--rate R]
Starts its own servers on random ports with fresh data directories: one on the embedded store, or K
on a fresh PostgreSQL database (made on SLUICE_BENCH_PG_URL, default the local service, with psql,
and dropped after), the client threads spread over them. --rate submits R starts per second in all
(below saturation: pickup latency without a queue) instead of as fast as the clients can. Stdlib
only."""
import argparse, base64, json, os, re, subprocess, tempfile, threading, time, urllib.request, uuid
from datetime import datetime

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("n", nargs="?", type=int, default=1000)
ap.add_argument("threads", nargs="?", type=int, default=8)
ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
ap.add_argument("--nodes", type=int, default=1)
ap.add_argument("--rate", type=float, default=0)
ap.add_argument("--concurrency", type=int, default=4)
args = ap.parse_args()
if args.store == "sqlite" and args.nodes != 1:
    ap.error("several nodes need --store postgres")

work = tempfile.mkdtemp(prefix="sluice-bench-")
defs = os.path.join(work, "defs")
os.makedirs(defs)
with open(os.path.join(defs, "tiny.csv"), "w") as f:
    f.write("id,name\n1,a\n")
with open(os.path.join(defs, "tiny.toml"), "w") as f:
    f.write('type = "MTT"\nallow_parallel = true\n[[sources]]\nname = "t"\nformat = "csv"\npath = "%s"\n'
            '[target]\nformat = "csv"\npath = "${sluice.data_dir}/out/${sluice.run_id}.csv"\n'
            % os.path.join(defs, "tiny.csv"))

admin_pg = os.environ.get("SLUICE_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
database = None
env = dict(os.environ, SLUICE_ADMIN_PASSWORD="bench-password", RUST_LOG="warn",
           SLUICE_WORKER__CONCURRENCY=str(args.concurrency),
           SLUICE_SECRET_KEY=base64.b64encode(os.urandom(32)).decode())
if args.store == "postgres":
    database = "sluice_bench_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", admin_pg, "-qc", "CREATE DATABASE " + database], check=True)
    env["SLUICE_STORE"] = admin_pg.rsplit("/", 1)[0] + "/" + database

def start_node(i):
    node_env = dict(env, SLUICE_NODE_NAME="bench-%d" % i)
    proc = subprocess.Popen([args.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                             os.path.join(work, "data-%d" % i), "--definitions", defs],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=node_env, text=True)
    for line in proc.stdout:
        m = re.match(r"sluice listening on (\S+)", line)
        if m:
            return proc, m.group(1)
    raise SystemExit("node %d did not start" % i)

nodes = [start_node(i) for i in range(args.nodes)]
urls = [u for _, u in nodes]

def call(url, method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())

token = call(urls[0], "POST", "/api/v1/auth/login", {"username": "admin", "password": "bench-password"})["token"]
ids, lock = [], threading.Lock()
t0 = time.perf_counter()

def submit(i, count):
    url = urls[i % len(urls)]
    for k in range(count):
        if args.rate:
            # Thread i's k-th start is due at its slot of the shared schedule.
            due = t0 + (k * args.threads + i) / args.rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        run = call(url, "POST", "/api/v1/runs", {"task": "tiny"}, token)
        with lock:
            ids.append(run["id"])

workers = [threading.Thread(target=submit, args=(i, args.n // args.threads + (1 if i < args.n % args.threads else 0)))
           for i in range(args.threads)]
for w in workers: w.start()
for w in workers: w.join()
t_submitted = time.perf_counter() - t0
while True:
    active = call(urls[0], "GET", "/api/v1/runs?state=queued,starting,running,stopping&limit=1", None, token)["runs"]
    if not active:
        break
    time.sleep(0.05)
elapsed = time.perf_counter() - t0

def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))
lat, held, states, per_node = [], [], {}, {}
for rid in ids:
    r = call(urls[0], "GET", "/api/v1/runs/" + rid, None, token)
    states[r["state"]] = states.get(r["state"], 0) + 1
    per_node[r.get("node")] = per_node.get(r.get("node"), 0) + 1
    lat.append((ts(r["started_at"]) - ts(r["created_at"])).total_seconds() * 1000)
    held.append((ts(r["ended_at"]) - ts(r["started_at"])).total_seconds() * 1000)
lat.sort()
held.sort()
pct = lambda p, xs=lat: xs[min(len(xs) - 1, int(p / 100 * len(xs)))]
for proc, _ in nodes:
    proc.terminate()
for proc, _ in nodes:
    proc.wait()
if database:
    subprocess.run(["psql", admin_pg, "-qc", "DROP DATABASE " + database + " WITH (FORCE)"], check=False)
print(json.dumps({"runs": args.n, "store": args.store, "nodes": args.nodes, "client_threads": args.threads,
                  "rate": args.rate or None, "states": states, "per_node": per_node,
                  "submit_rps": round(args.n / t_submitted, 1), "end_to_end_rps": round(args.n / elapsed, 1),
                  "accepted_to_running_ms": {"p50": round(pct(50), 2), "p99": round(pct(99), 2)},
                  "claimed_to_ended_ms": {"p50": round(pct(50, held), 2), "p99": round(pct(99, held), 2)}},
                 indent=2))
