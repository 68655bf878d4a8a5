#!/usr/bin/env bash
# Database benchmarks, side by side in one run, on ROWS rows from shared/bench/gen_orders.py:
#   1. CSV -> PostgreSQL (table with a primary key): Sluice, psql \copy (the reference), Sling, pgloader
#   2. PostgreSQL -> Parquet: Sluice, ConnectorX + pyarrow
#   3. upsert of ROWS rows into a table that holds them, half changed: Sluice, plain SQL via psql
#   4. PostgreSQL -> MariaDB replication: Sluice
# Peak memory: /usr/bin/time's max RSS for the peers, the server's VmHWM for Sluice (a fresh server
# per scenario, so the peak belongs to it).
# usage: bench/db.sh [SLUICE_BINARY]   env: ROWS (default 5000000), ONLY=peers|sluice,
#        SLUICE_BENCH_PG_URL, SLUICE_BENCH_MYSQL_URL (defaults: the local services)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:-${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}/debug/sluice}")
rows=${ROWS:-5000000}
only=${ONLY:-all}
pg=${SLUICE_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
my=${SLUICE_BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}
export SLUICE_BENCH_PG_URL=$pg SLUICE_BENCH_MYSQL_URL=$my
data="$here/.data"; mkdir -p "$data"
gen="$here/../../shared/bench/gen_orders.py"; [ -f "$gen" ] || gen="$here/gen_orders.py"
csv="$data/orders_$rows.csv"; changed="$data/orders_${rows}_changed.csv"
[ -f "$csv" ] || python3 "$gen" "$rows" "$csv"
[ -f "$changed" ] || python3 - "$csv" "$changed" <<'PY'
# Every second row gets a new amount and status: an upsert of the file updates half the rows.
import csv, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w", newline="") as dst:
    r, w = csv.reader(src), csv.writer(dst, lineterminator="\n")
    w.writerow(next(r))
    for i, row in enumerate(r):
        if i % 2 == 0:
            row[6] = f"{float(row[6]) + 1:.2f}"; row[5] = "CHANGED"
        w.writerow(row)
PY
echo "input: $(du -h "$csv" | cut -f1) $rows rows"

venv="$here/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import connectorx, pyarrow" 2>/dev/null || "$venv/bin/pip" -q install connectorx pyarrow
[ -x "$venv/bin/sling" ] || "$venv/bin/pip" -q install sling sling-linux-amd64
export SLING_BINARY=${SLING_BINARY:-$(find "$venv" -name sling-linux-amd64 -type f | head -1)}
command -v pgloader >/dev/null || apt-get install -y -q pgloader >/dev/null 2>&1 || true
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null 2>&1 || true

results="$data/results.md"
echo "| scenario | tool | seconds | rows/s | peak RSS MB |" > "$results"
echo "|---|---|---:|---:|---:|" >> "$results"
record() { # scenario tool seconds rss
    local rps="-"; [ "$3" != FAILED ] && rps=$(python3 -c "print(f'{$rows/$3:,.0f}')")
    echo "| $1 | $2 | $3 | $rps | $4 |" | tee -a "$results"
}
psqlq() { psql "$pg" -v ON_ERROR_STOP=1 -qAtc "$1"; }
ddl="(order_id bigint PRIMARY KEY, customer_id bigint, customer_name text, email text,
      country text, status text, amount numeric(12,2), quantity int, ordered_at timestamp, note text)"
fresh_table() { psqlq "DROP TABLE IF EXISTS $1; CREATE TABLE $1 $ddl"; }
check_count() { # table [expected]
    local n; n=$(psqlq "SELECT count(*) FROM $1")
    [ "$n" = "${2:-$rows}" ] || { echo "$1 holds $n rows, expected ${2:-$rows}" >&2; return 1; }
}
# Runs a command under /usr/bin/time; sets secs and rss (MB) or fails.
timed() {
    local log; log=$(mktemp)
    if /usr/bin/time -f "%e %M" -o "$log" "$@" > "$data/last.out" 2>&1; then
        read -r secs rss < "$log"; rss=$((rss / 1024)); rm -f "$log"
    else
        echo "failed: $*" >&2; tail -5 "$data/last.out" >&2; rm -f "$log"; return 1
    fi
}

# Sluice: a fresh server per scenario; the time is the CLI's run from start to end.
sluice_run() { # task params...
    local task=$1; shift
    local work; work=$(mktemp -d /tmp/sluice-dbbench.XXXX)
    SLUICE_ADMIN_PASSWORD=bench-password RUST_LOG=warn \
        "$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --definitions "$here/db/defs" \
        > "$work/server.out" 2>&1 &
    local pid=$!
    until grep -q "listening on" "$work/server.out" 2>/dev/null; do sleep 0.1; done
    local url; url=$(sed -n 's/^sluice listening on //p' "$work/server.out")
    local params=(); for p in "$@"; do params+=(--param "$p"); done
    local start end ok=0
    start=$(date +%s.%N)
    SLUICE_URL=$url SLUICE_USER=admin SLUICE_PASSWORD=bench-password \
        "$bin" run "$task" "${params[@]}" --wait > "$work/run.out" 2>&1 || ok=$?
    end=$(date +%s.%N)
    rss=$(grep VmHWM /proc/$pid/status | awk '{print int($2/1024)}')
    kill $pid; wait $pid 2>/dev/null || true
    cat "$work/run.out" >&2
    rm -rf "$work"
    secs=$(python3 -c "print(f'{$end - $start:.2f}')")
    return $ok
}

echo "## 1. CSV -> PostgreSQL"
if [ "$only" != sluice ]; then
    fresh_table bench_psql
    if timed psql "$pg" -v ON_ERROR_STOP=1 -qc "\\copy bench_psql FROM '$csv' CSV HEADER" && check_count bench_psql
    then record "CSV -> PostgreSQL" "psql \\copy" "$secs" "$rss"; else record "CSV -> PostgreSQL" "psql \\copy" FAILED -; fi

    psqlq "DROP TABLE IF EXISTS bench_sling"
    fresh_table bench_sling
    if [ -n "$SLING_BINARY" ] && timed "$SLING_BINARY" run --src-stream "file://$csv" --tgt-conn "$pg?sslmode=disable" \
        --tgt-object public.bench_sling --mode truncate && check_count bench_sling
    then record "CSV -> PostgreSQL" "Sling $("$SLING_BINARY" --version 2>/dev/null | head -1 | sed "s/Version: //")" "$secs" "$rss"
    else record "CSV -> PostgreSQL" Sling FAILED -; fi

    fresh_table bench_pgloader
    cat > "$data/pgloader.load" <<LOAD
LOAD CSV FROM '$csv'
  (order_id, customer_id, customer_name, email, country, status, amount, quantity, ordered_at, note)
INTO $pg?tablename=bench_pgloader
  (order_id, customer_id, customer_name, email, country, status, amount, quantity, ordered_at, note)
WITH skip header = 1, fields terminated by ',', fields optionally enclosed by '"';
LOAD
    if command -v pgloader >/dev/null && timed pgloader --on-error-stop "$data/pgloader.load" && check_count bench_pgloader
    then record "CSV -> PostgreSQL" "pgloader" "$secs" "$rss"; else record "CSV -> PostgreSQL" pgloader FAILED -; fi
fi
if [ "$only" != peers ]; then
    fresh_table bench_sluice
    if sluice_run bench/csv_to_pg "file=$csv" table=bench_sluice && check_count bench_sluice
    then record "CSV -> PostgreSQL" Sluice "$secs" "$rss"; else record "CSV -> PostgreSQL" Sluice FAILED -; fi
fi

echo "## 2. PostgreSQL -> Parquet"
src=bench_psql; [ "$only" = sluice ] && src=bench_sluice
if [ "$only" != sluice ]; then
    cat > "$data/cx.py" <<'PY'
import connectorx as cx, pyarrow.parquet as pq, sys
table = cx.read_sql(sys.argv[1], f"SELECT * FROM {sys.argv[2]}", return_type="arrow")
pq.write_table(table, sys.argv[3], compression="snappy")
assert table.num_rows == int(sys.argv[4]), table.num_rows
PY
    if timed "$venv/bin/python" "$data/cx.py" "$pg" "$src" "$data/cx.parquet" "$rows"
    then record "PostgreSQL -> Parquet" "ConnectorX $("$venv/bin/python" -c 'import connectorx; print(connectorx.__version__)') + pyarrow" "$secs" "$rss"
    else record "PostgreSQL -> Parquet" ConnectorX FAILED -; fi
fi
if [ "$only" != peers ]; then
    rm -f "$data/sluice.parquet"
    if sluice_run bench/pg_to_parquet "table=$src" "out=$data/sluice.parquet" \
        && "$venv/bin/python" -c "import pyarrow.parquet as pq, sys; n = pq.ParquetFile(sys.argv[1]).metadata.num_rows; assert n == $rows, n" "$data/sluice.parquet"
    then record "PostgreSQL -> Parquet" Sluice "$secs" "$rss"; else record "PostgreSQL -> Parquet" Sluice FAILED -; fi
fi

echo "## 3. Upsert, half the rows changed"
if [ "$only" != sluice ]; then
    check_count bench_psql
    upsert_sql="BEGIN;
CREATE TEMP TABLE stg (LIKE bench_psql) ON COMMIT DROP;
\\copy stg FROM '$changed' CSV HEADER
INSERT INTO bench_psql SELECT * FROM stg ON CONFLICT (order_id) DO UPDATE SET
  customer_id = excluded.customer_id, customer_name = excluded.customer_name, email = excluded.email,
  country = excluded.country, status = excluded.status, amount = excluded.amount,
  quantity = excluded.quantity, ordered_at = excluded.ordered_at, note = excluded.note
  WHERE (bench_psql.*) IS DISTINCT FROM (excluded.*);
COMMIT;"
    if echo "$upsert_sql" > "$data/upsert.sql" && timed psql "$pg" -v ON_ERROR_STOP=1 -qf "$data/upsert.sql"
    then record "Upsert (half changed)" "psql: COPY to temp + INSERT ON CONFLICT" "$secs" "$rss"
    else record "Upsert (half changed)" "psql" FAILED -; fi
fi
if [ "$only" != peers ]; then
    check_count bench_sluice
    if sluice_run bench/upsert_pg "file=$changed" table=bench_sluice && check_count bench_sluice \
        && [ "$(psqlq "SELECT count(*) FROM bench_sluice WHERE status = 'CHANGED'")" = "$(( (rows + 1) / 2 ))" ]
    then record "Upsert (half changed)" Sluice "$secs" "$rss"; else record "Upsert (half changed)" Sluice FAILED -; fi
fi

echo "## 4. PostgreSQL -> MariaDB"
if [ "$only" != peers ]; then
    mariadb_db=${my##*/}
    mariadb -h 127.0.0.1 -u root "$mariadb_db" -e "DROP TABLE IF EXISTS bench_sluice"
    if sluice_run bench/pg_to_mariadb table=bench_sluice \
        && [ "$(mariadb -h 127.0.0.1 -u root "$mariadb_db" -N -e 'SELECT COUNT(*) FROM bench_sluice')" = "$rows" ]
    then record "PostgreSQL -> MariaDB" Sluice "$secs" "$rss"; else record "PostgreSQL -> MariaDB" Sluice FAILED -; fi
fi

echo; cat "$results"
