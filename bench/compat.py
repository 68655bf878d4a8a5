#!/usr/bin/env python3
"""Compatibility surfaces benchmark (IICS and Starfish).

1. Starts: N starts of a tiny mapping task through `POST /saas/api/v2/job` (IICS), through
   `POST /v1/ExecuteJobAsync` (Starfish, a new runID each) and through `POST /api/v1/runs`
   (native), each with CLIENT_THREADS threads on a fresh server: starts/s,
   runs/s end to end, and accepted -> running latency p50/p99 (server timestamps).
2. Callbacks: N IICS jobs with a callbackURL to a receiver on loopback, on a server running 32 runs
   at once so the jobs end close together: latency from each run's end (the server's ended_at) to
   the callback's arrival, p50/p99, and deliveries per second over the burst.

usage: iics.py SLUICE_BINARY [N] [CLIENT_THREADS]     stdlib only; each part starts its own server.
"""
import http.server, json, os, re, subprocess, sys, tempfile, threading, time, urllib.request, uuid
from datetime import datetime

binary = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 8

def start_server(concurrency):
    work = tempfile.mkdtemp(prefix="sluice-bench-iics-")
    defs = os.path.join(work, "defs")
    os.makedirs(defs)
    with open(os.path.join(defs, "tiny.csv"), "w") as f:
        f.write("id,name\n1,a\n")
    with open(os.path.join(defs, "tiny.toml"), "w") as f:
        f.write('type = "MTT"\nallow_parallel = true\n[[sources]]\nname = "t"\nformat = "csv"\npath = "tiny.csv"\n'
                '[target]\nformat = "csv"\npath = "${sluice.data_dir}/out/${sluice.run_id}.csv"\n')
    env = dict(os.environ, SLUICE_ADMIN_PASSWORD="bench-password", SLUICE_WORKER__CONCURRENCY=str(concurrency),
               RUST_LOG="warn")
    proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(work, "data"),
                             "--definitions", defs], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    for line in proc.stdout:
        m = re.match(r"sluice listening on (\S+)", line)
        if m:
            return proc, m.group(1)
    raise SystemExit("the server did not start")

def call(url, method, path, body=None, headers=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())

def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]

def all_runs(url, token):
    runs, before = [], None
    while True:
        q = "/api/v1/runs?limit=500" + (f"&before={before}" if before else "")
        page = call(url, "GET", q, headers={"authorization": "Bearer " + token})
        runs += page["runs"]
        before = page.get("next_before")
        if not before:
            return runs

def starts(kind):
    proc, url = start_server(4)
    try:
        token = call(url, "POST", "/api/v1/auth/login", {"username": "admin", "password": "bench-password"})["token"]
        session = call(url, "POST", "/ma/api/v2/user/login", {"username": "admin", "password": "bench-password"})["icSessionId"]
        tiny = [t for t in call(url, "GET", "/api/v1/tasks", headers={"authorization": "Bearer " + token}) if t["name"] == "tiny"][0]
        def one():
            if kind == "starfish":
                call(url, "POST", "/v1/ExecuteJobAsync",
                     {"runID": str(uuid.uuid4()), "projectID": tiny["starfish_project_id"], "jobID": tiny["starfish_job_id"]},
                     {"authorization": "Bearer " + token})
            elif kind == "iics":
                call(url, "POST", "/saas/api/v2/job", {"@type": "job", "taskName": "tiny", "taskType": "MTT"},
                     {"icSessionId": session})
            else:
                call(url, "POST", "/api/v1/runs", {"task": "tiny"}, {"authorization": "Bearer " + token})
        def submit(count):
            for _ in range(count):
                one()
        t0 = time.perf_counter()
        ts_ = [threading.Thread(target=submit, args=(n // threads + (1 if i < n % threads else 0),)) for i in range(threads)]
        [t.start() for t in ts_]
        [t.join() for t in ts_]
        accepted = time.perf_counter() - t0
        while True:
            runs = all_runs(url, token)
            if len(runs) == n and all(r["finished"] for r in runs):
                break
            time.sleep(0.2)
        total = time.perf_counter() - t0
        lat = [(ts(r["started_at"]) - ts(r["created_at"])) * 1000 for r in runs]
        ok = sum(r["state"] == "completed" for r in runs)
        print(f"| {kind} | {n / accepted:,.0f} | {n / total:,.0f} | {pct(lat, 0.5):,.0f} | {pct(lat, 0.99):,.0f} | {ok}/{n} |")
    finally:
        proc.terminate()
        proc.wait()

def callbacks():
    arrivals, lock = {}, threading.Lock()
    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with lock:
                arrivals[body["runId"]] = time.time()
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()
        def log_message(self, *a):
            pass
    http.server.ThreadingHTTPServer.daemon_threads = True
    recv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=recv.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{recv.server_address[1]}/hook"
    proc, url = start_server(32)
    try:
        token = call(url, "POST", "/api/v1/auth/login", {"username": "admin", "password": "bench-password"})["token"]
        session = call(url, "POST", "/ma/api/v2/user/login", {"username": "admin", "password": "bench-password"})["icSessionId"]
        def submit(count):
            for _ in range(count):
                call(url, "POST", "/saas/api/v2/job",
                     {"@type": "job", "taskName": "tiny", "taskType": "MTT", "callbackURL": hook}, {"icSessionId": session})
        ts_ = [threading.Thread(target=submit, args=(n // threads + (1 if i < n % threads else 0),)) for i in range(threads)]
        [t.start() for t in ts_]
        [t.join() for t in ts_]
        deadline = time.time() + 600
        while len(arrivals) < n and time.time() < deadline:
            time.sleep(0.1)
        runs = all_runs(url, token)
        ended = {r["run_number"]: ts(r["ended_at"]) for r in runs if r["ended_at"]}
        lat = [(arrivals[k] - ended[k]) * 1000 for k in arrivals if k in ended]
        first_end = min(ended.values())
        span = max(arrivals.values()) - first_end
        end_span = max(ended.values()) - first_end
        print(f"| callbacks | {len(arrivals)}/{n} delivered | end → arrival p50 {pct(lat, 0.5):,.1f} ms, "
              f"p99 {pct(lat, 0.99):,.1f} ms | {len(arrivals) / span:,.0f} deliveries/s "
              f"(runs ended over {end_span:.2f} s, last callback {span:.2f} s after the first end) |")
    finally:
        proc.terminate()
        proc.wait()
        recv.shutdown()

print(f"{n} jobs, {threads} client threads")
print("| API | starts accepted/s | runs/s end to end | accepted → running p50 ms | p99 ms | completed |")
print("|---|---:|---:|---:|---:|---:|")
starts("iics")
starts("starfish")
starts("native")
callbacks()
