#!/usr/bin/env bash
# Mapping benchmark: CSV to Parquet on ROWS rows made by shared/bench/gen_orders.py, Sluice and
# DuckDB (COPY ... TO ... (FORMAT parquet), 2 threads) side by side on the same file.
# usage: bench/mapping.sh SLUICE_BINARY [ROWS]   (needs python3; installs duckdb from PyPI into bench/.venv)
set -euo pipefail
bin=$(realpath "$1"); rows=${2:-5000000}
here=$(cd "$(dirname "$0")" && pwd); gen="$here/../../shared/bench/gen_orders.py"
work=$(mktemp -d /tmp/sluice-mapbench.XXXX)
[ -f "$gen" ] || gen="$here/gen_orders.py"
python3 "$gen" "$rows" "$work/orders.csv"
echo "input: $(du -h "$work/orders.csv" | cut -f1) $rows rows"

[ -x "$here/.venv/bin/python" ] || { python3 -m venv "$here/.venv"; "$here/.venv/bin/pip" -q install duckdb; }
"$here/.venv/bin/python" - "$work" <<'PY'
import duckdb, sys, time, resource
w = sys.argv[1]
con = duckdb.connect(); con.execute("SET threads TO 2")
t = time.perf_counter()
con.execute(f"COPY (SELECT * FROM read_csv_auto('{w}/orders.csv')) TO '{w}/duck.parquet' (FORMAT parquet)")
print(f"duckdb: {time.perf_counter() - t:.2f}s, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
PY

mkdir -p "$work/defs"
cat > "$work/defs/to_parquet.toml" <<TOML
type = "MTT"
[[sources]]
name = "orders"
format = "csv"
path = "$work/orders.csv"
[target]
format = "parquet"
path = "$work/sluice.parquet"
TOML
export SLUICE_ADMIN_PASSWORD=bench-password RUST_LOG=warn
"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --definitions "$work/defs" > "$work/server.out" &
pid=$!
until grep -q "listening on" "$work/server.out" 2>/dev/null; do sleep 0.1; done
url=$(sed -n 's/^sluice listening on //p' "$work/server.out")
export SLUICE_URL=$url SLUICE_USER=admin SLUICE_PASSWORD=bench-password
start=$(date +%s.%N)
"$bin" run to_parquet --wait > "$work/run.out"
end=$(date +%s.%N)
peak=$(grep VmHWM /proc/$pid/status | awk '{print int($2/1024)}')
echo "sluice: $(echo "$end - $start" | bc)s (run start to end, via CLI), server peak RSS ${peak} MB"
cat "$work/run.out"
kill $pid; wait $pid 2>/dev/null || true
rm -rf "$work"
