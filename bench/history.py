#!/usr/bin/env python3
"""A long history must not slow the hot path: with H ended runs already in the store, measure the
pickup latency of new runs (accepted to running, submitted below saturation: the claim's cost)
and the latency of the runs list (newest page, and the active-runs filter). With --monitor, also
the web monitor's pages, signed in: the runs page (counts and the newest 50), a filtered one, and
a run's page whose log has --log-lines lines (its last 200 shown) and its log page (2,000).

usage: history.py SLUICE_BINARY [--store sqlite|postgres] [--history H] [--runs N]
                  [--monitor] [--log-lines L]
Makes a fresh store (SQLite file, or a PostgreSQL database made with psql on SLUICE_BENCH_PG_URL),
lets a server create its schema and the tiny task, writes H ended runs straight into the runs
table, then starts the server again and measures. Stdlib only (plus psql for PostgreSQL)."""
import argparse, json, os, re, sqlite3, subprocess, tempfile, time, urllib.error, urllib.parse, urllib.request, uuid

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
ap.add_argument("--history", type=int, default=1_000_000)
ap.add_argument("--runs", type=int, default=300)
ap.add_argument("--monitor", action="store_true")
ap.add_argument("--log-lines", type=int, default=1_000_000)
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

LOG_SQL_PG = """
INSERT INTO run_logs (run_id, seq, at, level, message)
SELECT r.id, g, now(), CASE WHEN g %% 100 = 0 THEN 30 ELSE 20 END,
       'row batch ' || g || ' written: 50000 rows, 12.3 MiB, target public.orders_' || (g %% 7)
FROM (SELECT id FROM runs ORDER BY id LIMIT 1) r, generate_series(1, %d) g;
ANALYZE run_logs;
"""

def write_log():
    """The oldest run gets a long log (info lines, a warning every 100th); answers its id."""
    if args.store == "postgres":
        url = env["SLUICE_STORE"]
        subprocess.run(["psql", url, "-qc", LOG_SQL_PG % args.log_lines], check=True)
        out = subprocess.run(["psql", url, "-tAc", "SELECT id FROM runs ORDER BY id LIMIT 1"],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()
    db = sqlite3.connect(os.path.join(data, "sluice.db"))
    (run_id,) = db.execute("SELECT id FROM runs ORDER BY id LIMIT 1").fetchone()
    now = int(time.time() * 1_000_000)
    db.executemany("INSERT INTO run_logs (run_id, seq, at, level, message) VALUES (?,?,?,?,?)",
                   ((run_id, g, now, 30 if g % 100 == 0 else 20,
                     "row batch %d written: 50000 rows, 12.3 MiB, target public.orders_%d" % (g, g % 7))
                    for g in range(1, args.log_lines + 1)))
    db.commit()
    db.close()
    return run_id

def monitor_cookie(url):
    """Signs in to the web monitor: answers its session cookie."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    form = urllib.parse.urlencode({"username": "admin", "password": "bench-password"}).encode()
    try:
        opener.open(urllib.request.Request(url + "/ui/login", data=form, method="POST"))
    except urllib.error.HTTPError as e:  # the 303 to the runs page
        return e.headers["set-cookie"].split(";")[0]
    raise SystemExit("signing in to the monitor failed")

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
log_run = write_log() if args.monitor and args.history else None
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
if args.monitor:
    cookie = monitor_cookie(url)
    def page(path, n=200):
        out = []
        for _ in range(n):
            req = urllib.request.Request(url + path, headers={"cookie": cookie})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req) as resp:
                body = resp.read()
                assert resp.status == 200 and b"<html" in body, (path, resp.status)
            out.append((time.perf_counter() - t0) * 1000)
        return {"p50": pct(out, 50), "p95": pct(out, 95), "p99": pct(out, 99)}
    result["monitor_runs_page_ms"] = page("/ui/runs")
    result["monitor_runs_failed_ms"] = page("/ui/runs?state=failed")
    result["monitor_runs_task_api_ms"] = page("/ui/runs?task=tiny&trigger=api")
    if log_run:
        result["log_lines"] = args.log_lines
        result["monitor_run_page_ms"] = page("/ui/runs/" + log_run, 50)
        result["monitor_log_page_2000_ms"] = page("/ui/runs/%s/log" % log_run, 50)
        result["monitor_log_search_ms"] = page("/ui/runs/%s?q=orders_3&level=warn" % log_run, 20)
stop(proc)
if database:
    subprocess.run(["psql", admin_pg, "-qc", "DROP DATABASE " + database + " WITH (FORCE)"], check=False)
print(json.dumps(result, indent=2))
