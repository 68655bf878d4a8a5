#!/usr/bin/env python3
"""Schedule benchmark: fire lag (a fire's due time to its run's creation, server timestamps) with
N active schedules, on either store.

usage: schedules.py SLUICE_BINARY [--store sqlite|postgres] [--schedules 1000] [--seconds 120]
                    [--nodes K]
Defines N per-minute schedules spread over the seconds of the minute (schedule i fires at second
i % 60), each named by one of N/10 tiny CSV-to-CSV mapping tasks (ten schedules a task), starts
its own server(s) on random ports, lets them fire for the given time, and reads every scheduled run
back through the API. Prints fires, duplicates (must be 0), the lag's p50, p99 and max (due time to the run's
`created_at`, the firing pass's clock reading), and due to `started_at` (committed, claimed and
started by a worker: what a user sees).
PostgreSQL: a fresh database on SLUICE_BENCH_PG_URL (default the local service), dropped after.
Stdlib only."""
import argparse, base64, json, os, re, subprocess, tempfile, time, urllib.request, uuid
from datetime import datetime

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
ap.add_argument("--schedules", type=int, default=1000)
ap.add_argument("--seconds", type=int, default=120)
ap.add_argument("--nodes", type=int, default=1)
args = ap.parse_args()

work = tempfile.mkdtemp(prefix="sluice-bench-sched-")
defs = os.path.join(work, "defs")
os.makedirs(os.path.join(defs, "schedules"))
os.makedirs(os.path.join(defs, "tasks"))
with open(os.path.join(defs, "tiny.csv"), "w") as f:
    f.write("id,name\n1,a\n")
for i in range(args.schedules):
    with open(os.path.join(defs, "schedules", "s-%d.toml" % i), "w") as f:
        f.write('kind = "schedule"\ntimezone = "Europe/Berlin"\ncron = "%d * * * * *"\n' % (i % 60))
for t in range(args.schedules // 10):
    names = ", ".join('"s-%d"' % (t * 10 + k) for k in range(10))
    with open(os.path.join(defs, "tasks", "t-%d.toml" % t), "w") as f:
        f.write('type = "MTT"\nallow_parallel = true\nschedules = [%s]\n[[sources]]\nname = "t"\n'
                'format = "csv"\npath = "%s"\n[target]\nformat = "csv"\n'
                'path = "${sluice.data_dir}/out/${sluice.run_id}.csv"\n'
                % (names, os.path.join(defs, "tiny.csv")))

admin_pg = os.environ.get("SLUICE_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
database = None
env = dict(os.environ, SLUICE_ADMIN_PASSWORD="bench-password", RUST_LOG="warn",
           SLUICE_SECRET_KEY=base64.b64encode(os.urandom(32)).decode())
if args.store == "postgres":
    database = "sluice_bench_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", admin_pg, "-qc", "CREATE DATABASE " + database], check=True)
    env["SLUICE_STORE"] = admin_pg.rsplit("/", 1)[0] + "/" + database
elif args.nodes != 1:
    ap.error("several nodes need --store postgres")

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

def call(url, method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())

nodes = [start_node(i) for i in range(args.nodes)]
url = nodes[0][1]
token = call(url, "POST", "/api/v1/auth/login", {"username": "admin", "password": "bench-password"})["token"]
# Fires before this are the start-up's (definitions still loading): left out.
time.sleep(5)
since = time.time()
time.sleep(args.seconds)
# Fires due in [since, stopped) are counted; reading goes on while the schedules keep firing.
stopped = time.time()

def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

lags, starts, keys, before = [], [], set(), None
dups = 0
while True:
    page = call(url, "GET", "/api/v1/runs?limit=1000" + ("&before=" + before if before else ""), None, token)
    for r in page["runs"]:
        if r["trigger"] != "schedule" or not r.get("fire_at"):
            continue
        fire, created = ts(r["fire_at"]), ts(r["created_at"])
        if fire < since or fire >= stopped:
            continue
        key = (r["task_id"], r["schedule"], r["fire_at"])
        if key in keys:
            dups += 1
        keys.add(key)
        lags.append((created - fire) * 1000)
        if r.get("started_at"):
            starts.append((ts(r["started_at"]) - fire) * 1000)
    before = page.get("next_before")
    if not before:
        break
for proc, _ in nodes:
    proc.terminate()
    proc.wait()
if database:
    subprocess.run(["psql", admin_pg, "-qc", "DROP DATABASE " + database + " WITH (FORCE)"], check=False)
lags.sort()
starts.sort()
pct = lambda p, xs=lags: xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else None
expected = args.schedules * args.seconds / 60
print(json.dumps({"store": args.store, "nodes": args.nodes, "schedules": args.schedules,
                  "seconds": args.seconds, "fires": len(lags), "expected_about": round(expected),
                  "duplicates": dups,
                  "lag_ms": {"p50": round(pct(50), 1), "p99": round(pct(99), 1), "max": round(lags[-1], 1)},
                  "due_to_started_ms": {"p50": round(pct(50, starts), 1), "p99": round(pct(99, starts), 1)}},
                 indent=2))
