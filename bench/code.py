#!/usr/bin/env python3
"""Code task benchmark.

1. Spark overhead: the same PySpark job (sum over a range) run N times by hand with spark-submit
   and N times as a Sluice `spark` code task (started through the native API, waited for),
   interleaved, wall time side by side; once with the driver UI off (Sluice reads progress from the log alone) and
   once with it on (Sluice also polls the driver's monitoring API every second).
2. Log latency: a `process` task prints a timestamped line every 50 ms; each line's delay from the
   moment it was printed to the moment it is readable through `GET /api/v1/runs/{id}/log`, polled
   every 10 ms: p50, p99.

usage: code.py SLUICE_BINARY SPARK_HOME [N]    stdlib only; starts its own server.
"""
import json, os, re, statistics, subprocess, sys, tempfile, time, urllib.request

binary, spark_home = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 3
work = tempfile.mkdtemp(prefix="sluice-bench-code-")
defs = os.path.join(work, "defs")
os.makedirs(defs)
job = os.path.join(defs, "sum.py")
with open(job, "w") as f:
    f.write("import sys\nfrom pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n"
            "print('sum:', spark.range(int(sys.argv[1])).groupBy().sum().collect()[0][0])\nspark.stop()\n")
with open(os.path.join(defs, "spark_sum.toml"), "w") as f:
    f.write('type = "CODE"\nallow_parallel = true\nengine = "spark"\napplication = "sum.py"\nargs = ["10000000"]\n'
            '[conf]\n"spark.ui.enabled" = "false"\n')
with open(os.path.join(defs, "spark_sum_ui.toml"), "w") as f:
    f.write('type = "CODE"\nallow_parallel = true\nengine = "spark"\napplication = "sum.py"\nargs = ["10000000"]\n')
ticker = os.path.join(defs, "ticker.py")
with open(ticker, "w") as f:
    f.write("import sys, time\nfor i in range(200):\n    print(f'{time.time():.6f} {i}', flush=True)\n    time.sleep(0.05)\n")
with open(os.path.join(defs, "ticker.toml"), "w") as f:
    f.write(f'type = "CODE"\nengine = "process"\nprogram = "{sys.executable}"\nargs = ["{ticker}"]\n')

submit = os.path.join(spark_home, "bin", "spark-submit")
env = dict(os.environ, SLUICE_ADMIN_PASSWORD="bench-password", RUST_LOG="warn", SPARK_HOME=spark_home)
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

try:
    token = call("POST", "/api/v1/auth/login", {"username": "admin", "password": "bench-password"})["token"]
    # By hand and through Sluice interleaved, so a drift in the machine's speed falls on both.
    hand = {"spark_sum": [], "spark_sum_ui": []}
    via = {"spark_sum": [], "spark_sum_ui": []}
    confs = {"spark_sum": ["--conf", "spark.ui.enabled=false"], "spark_sum_ui": []}
    for _ in range(n):
        for task in via:
            t0 = time.perf_counter()
            subprocess.run([submit, "--master", "local[*]", "--deploy-mode", "client", *confs[task], job, "10000000"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            hand[task].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            run = call("POST", "/api/v1/runs", {"task": task}, token)
            while not run["finished"]:
                run = call("GET", f"/api/v1/runs/{run['id']}/wait?timeout=30", token=token)
            via[task].append(time.perf_counter() - t0)
            assert run["state"] == "completed", run
            assert run["spark"]["state"] == "succeeded", run
            if task == "spark_sum_ui":
                assert run["spark"]["app_id"].startswith("local-"), run

    run = call("POST", "/api/v1/runs", {"task": "ticker"}, token)
    after, delays, finished = 0, [], False
    while not finished:
        page = call("GET", f"/api/v1/runs/{run['id']}/log?after={after}&limit=5000", token=token)
        now = time.time()
        for line in page["lines"]:
            m = re.match(r"(\d+\.\d+) \d+$", line["message"])
            if m:
                delays.append((now - float(m.group(1))) * 1000)
        after, finished = page["next_after"], page["finished"]
        time.sleep(0.01)
finally:
    server.terminate()
    server.wait()

med = lambda xs: statistics.median(xs)
print(f"| Spark job ({n} runs each) | by hand (spark-submit) | as a Sluice code task | overhead |")
print("|---|---:|---:|---:|")
for task, label in [("spark_sum", "median wall time, UI off (log only)"),
                    ("spark_sum_ui", "median wall time, UI on (API polled each second)")]:
    h, v = med(hand[task]), med(via[task])
    print(f"| {label} | {h:.2f} s | {v:.2f} s | {v - h:+.2f} s |")
delays.sort()
print(f"log latency over {len(delays)} lines: p50 {delays[len(delays) // 2]:.0f} ms, p99 {delays[int(len(delays) * 0.99)]:.0f} ms")
