#!/usr/bin/env python3
"""A long history must not slow the hot path: with H ended runs already in the store, measure the
pickup latency of new runs (accepted to running, submitted below saturation: the claim's cost)
and the latency of the runs list (newest page, and the active-runs filter).

usage: history.py SLUICE_BINARY [--store sqlite|postgres] [--history H] [--runs N]
Makes a fresh store (SQLite file, or a PostgreSQL database made with psql on SLUICE_BENCH_PG_URL),
lets a server create its schema and the tiny task, writes H ended runs straight into the runs
table, then starts the server again and measures. Stdlib only (plus psql for PostgreSQL)."""
import argparse, json, os, re, sqlite3, subprocess, tempfile, time, urllib.request, uuid

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
ap.add_argument("--history", type=int, default=1_000_000)
ap.add_argument("--runs", type=int, default=300)
args = ap.parse_args()

work = tempfile.mkdtemp(prefix="sluice-history-")
defs, data = os.path.join(work, "defs"), os.path.join(work, "data")
os.makedirs(defs)
with open(os.path.join(defs, "tiny.csv"), "w") as f:
    f.write("id,name\n1,a\n")
with open(os.path.join(defs, "tiny.toml"), "w") as f:
    f.write('type = "MTT"\nallow_parallel = true\n[[sources]]\nname = "t"\nformat = "csv"\npath = "%s"\n'
            '[target]\nformat = "csv"\npath = "${sluice.data_dir}/out/${sluice.run_id}.csv"\n' % os.path.join(defs, "tiny.csv"))
admin_pg = os.environ.get("SLUICE_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
env = dict(os.environ, SLUICE_ADMIN_PASSWORD="bench-password", RUST_LOG="warn", SLUICE_WORKER__CONCURRENCY="4")
database = None
if args.store == "postgres":
    database = "sluice_history_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", admin_pg, "-qc", "CREATE DATABASE " + database], check=True)
    env["SLUICE_STORE"] = admin_pg.rsplit("/", 1)[0] + "/" + database

def serve():
    proc = subprocess.Popen([args.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--definitions", defs],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    for line in proc.stdout:
        m = re.match(r"sluice listening on (\S+)", line)
        if m:
            return proc, m.group(1)
    raise SystemExit("the server did not start")

def stop(proc):
    proc.terminate()
    proc.wait()

# Runs older than anything new, numbered after nothing new: ids shaped like UUIDv7 of their time.
HISTORY_SQL_PG = """
INSERT INTO runs (id, org_id, task_id, run_number, trigger, started_by, parameters, state,
                  created_at, started_at, ended_at, node, source_rows_read, target_rows_written)
SELECT (lpad(to_hex(ms), 12, '0') || '70008000' || lpad(to_hex(g), 12, '0'))::uuid, t.org_id, t.id,
       1000000000 + g, 'api', 'history', '{}', CASE WHEN g %% 10 = 0 THEN 'failed' ELSE 'completed' END,
       to_timestamp(ms / 1000.0), to_timestamp(ms / 1000.0), to_timestamp(ms / 1000.0 + 1), 'old-node', 1, 1
FROM tasks t, generate_series(1, %d) g,
     LATERAL (SELECT (extract(epoch FROM now() - interval '400 days') * 1000)::bigint + g * 10 AS ms) m
WHERE t.name = 'tiny';
ANALYZE runs;
"""

def write_history():
    t0 = time.perf_counter()
    if args.store == "postgres":
        url = env["SLUICE_STORE"]
        subprocess.run(["psql", url, "-qc", HISTORY_SQL_PG % args.history], check=True)
    else:
        db = sqlite3.connect(os.path.join(data, "sluice.db"))
        org_id, task_id = db.execute("SELECT org_id, id FROM tasks WHERE name = 'tiny'").fetchone()
        base = int((time.time() - 400 * 86400) * 1000)
        def rows():
            for g in range(1, args.history + 1):
                ms = base + g * 10
                h = "%012x70008000%012x" % (ms, g)
                rid = "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
                state = "failed" if g % 10 == 0 else "completed"
                yield (rid, org_id, task_id, 1_000_000_000 + g, "api", "history", "{}", state,
                       ms * 1000, ms * 1000, ms * 1000 + 1_000_000, "old-node")
        db.executemany("INSERT INTO runs (id, org_id, task_id, run_number, trigger, started_by, parameters, state,"
                       " created_at, started_at, ended_at, node) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows())
        db.commit()
        db.execute("ANALYZE")
        db.close()
    return time.perf_counter() - t0

def call(url, method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())

def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 2)

proc, url = serve()
stop(proc)
took = write_history() if args.history else 0
proc, url = serve()
token = call(url, "POST", "/api/v1/auth/login", {"username": "admin", "password": "bench-password"})["token"]
from datetime import datetime
ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
pickups, ids = [], []
for _ in range(args.runs):
    ids.append(call(url, "POST", "/api/v1/runs", {"task": "tiny"}, token)["id"])
    time.sleep(0.02)  # 50 starts/s: far below saturation, so no queue
while call(url, "GET", "/api/v1/runs?state=queued,starting,running,stopping&limit=1", None, token)["runs"]:
    time.sleep(0.05)
for rid in ids:
    r = call(url, "GET", "/api/v1/runs/" + rid, None, token)
    pickups.append((ts(r["started_at"]) - ts(r["created_at"])).total_seconds() * 1000)
def timed(path, n=200):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call(url, "GET", path, None, token)
        out.append((time.perf_counter() - t0) * 1000)
    return {"p50": pct(out, 50), "p99": pct(out, 99)}
result = {"store": args.store, "history": args.history, "history_write_s": round(took, 1),
          "pickup_ms": {"p50": pct(pickups, 50), "p99": pct(pickups, 99)},
          "list_newest_50_ms": timed("/api/v1/runs?limit=50"),
          "list_active_ms": timed("/api/v1/runs?state=queued,starting,running,stopping&limit=50")}
stop(proc)
if database:
    subprocess.run(["psql", admin_pg, "-qc", "DROP DATABASE " + database + " WITH (FORCE)"], check=False)
print(json.dumps(result, indent=2))
