#!/usr/bin/env bash
# Benchmarks of issue-level performance goals, on synthetic data (see README "Performance").
# Usage: scripts/bench.sh [RECORDS]   (default 1000000). Writes bench-out/ and prints a table.
# Every figure is one run of the release binary, wall time and peak memory from /usr/bin/time;
# baselines are measured in the same run so ratios compare like with like.
# The analyst's baselines (DuckDB and pandas computing the same per-service KPI counts from the
# same CSV, scripts/analyst_kpi.py) run in a venv under bench-out/ that this script creates with
# pip when missing; their counts are checked equal to flsdb's before any ratio is printed.
# Environment: BENCH_QUICK=1 skips the database import and the reports (check, kpi from CSV and
# the analyst baselines only); BENCH_NO_ANALYST=1 skips the baselines (no Python needed).
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
out=bench-out
mkdir -p "$out"
cargo build --release -p flsdb --locked >&2
bin=target/release/flsdb
export FLSDB_ALLOW_TEST_NHS_NUMBERS=1 FLSDB_TODAY=2026-11-30

# measure LABEL CMD...: prints "LABEL<TAB>seconds<TAB>peak MiB" and keeps stdout in $out/LABEL.out
measure() {
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$out/$label.time" "$@" >"$out/$label.out" 2>"$out/$label.err" || {
        echo "bench: $label failed:" >&2; tail -5 "$out/$label.err" >&2; exit 1; }
    read -r secs kib <"$out/$label.time"
    printf '%s\t%s\t%s\t%s\n' "$label" "$secs" "$((kib / 1024))" "$(cut -d' ' -f1 /proc/loadavg)"
}

data=$out/data-$records
if [ ! -f "$data/records.csv" ]; then
    $bin synth --records "$records" --services 80 --years 2016-2024 --seed 1 --as-of 2025-06-30 --out "$data" >&2
fi
rows=$(($(wc -l <"$data/records.csv") - 1))
size=$(du -m "$data/records.csv" | cut -f1)
echo "# $rows records, ${size} MiB CSV" >&2

python=$out/venv/bin/python
if [ -z "${BENCH_NO_ANALYST:-}" ] && ! "$python" -c 'import duckdb, pandas' 2>/dev/null; then
    echo "# installing duckdb and pandas into $out/venv" >&2
    python3 -m venv "$out/venv" >&2
    "$python" -m pip install --quiet duckdb pandas >&2
fi
kpi_args=(--year 2023 --as-of 2025-06-30)
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

{
    echo -e "step\tseconds\tpeak_MiB\tload"
    measure read_baseline wc -l "$data/records.csv"
    measure check $bin check "$data/records.csv" --services "$data/services.csv"
    measure kpi_csv $bin kpi --records "$data/records.csv" --services "$data/services.csv" \
        --opt-outs "$data/opt_outs.txt" "${kpi_args[@]}"
    if [ -z "${BENCH_NO_ANALYST:-}" ]; then
        measure duckdb "$python" scripts/analyst_kpi.py duckdb "$data/records.csv" "$data/services.csv" \
            "$data/opt_outs.txt" 2023 2025-06-30
        measure pandas "$python" scripts/analyst_kpi.py pandas "$data/records.csv" "$data/services.csv" \
            "$data/opt_outs.txt" 2023 2025-06-30
    fi
    if [ -n "${BENCH_QUICK:-}" ]; then exit 0; fi
    rm -f "$out/bench.sqlite"*
    $bin import services "$data/services.csv" --db "$out/bench.sqlite" >/dev/null
    $bin import opt-outs "$data/opt_outs.txt" --db "$out/bench.sqlite" >/dev/null
    measure import_sqlite $bin import records "$data/records.csv" --db "$out/bench.sqlite"
    measure reimport_sqlite $bin import records "$data/records.csv" --db "$out/bench.sqlite"
    measure kpi_sqlite $bin kpi --db "$out/bench.sqlite" "${kpi_args[@]}"
    if $bin report --help >/dev/null 2>&1; then
        # Reports (issue 6): goals < 10 s for the annual report of 80 services from 1M records,
        # < 30 s for all commissioner reports. PDFs come from the separate flsdb-pdf binary.
        cargo build --release -p flsdb-pdf --locked >&2
        mkdir -p "$out/reports"
        measure report_annual $bin report annual --db "$out/bench.sqlite" --year 2023 --as-of 2025-06-30 \
            --out "$out/reports"
        measure report_commissioners $bin report commissioner --db "$out/bench.sqlite" --year 2023 \
            --as-of 2025-06-30 --out "$out/reports"
        measure report_service $bin report service --db "$out/bench.sqlite" --year 2023 --as-of 2025-06-30 \
            --service "$(sed -n 2p "$data/services.csv" | cut -d, -f1)" --out "$out/reports/service.pdf"
        measure report_benchmarks $bin report benchmarks --db "$out/bench.sqlite" --year 2023 \
            --as-of 2025-06-30 --published --out "$out/reports/benchmarks-2023.xlsx"
    fi
} | tee "$out/results.tsv"

awk -F'\t' -v rows="$rows" 'NR > 1 && $2 > 0 && $1 != "read_baseline" {
    printf "%-20s %10.0f rows/s\n", $1, rows / $2 }' "$out/results.tsv"

if [ -z "${BENCH_NO_ANALYST:-}" ]; then
    # Honest comparison: the analysts' counts must equal flsdb's (kpi2-kpi11, every service).
    for engine in duckdb pandas; do
        printf '%-8s vs flsdb: ' "$engine"
        "$python" scripts/analyst_kpi.py compare "$out/$engine.out" "$out/kpi_csv.out"
    done
    awk -F'\t' '{ t[$1] = $2 } END {
        printf "kpi_csv / duckdb = %.3f (goal <= 0.5), kpi_csv / pandas = %.3f\n",
            t["kpi_csv"] / t["duckdb"], t["kpi_csv"] / t["pandas"] }' "$out/results.tsv"
fi

# ---- PostgreSQL (issue 7; store performance) -------------------------------------------------
# Import of the same records into PostgreSQL (goal >= 50k rows/s), the same import again (all
# unchanged), and the KPI table read back from it (goal < 3 s). Runs when a server answers at
# FLSDB_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres, a role that may
# create databases); the benchmark creates a fresh database flsdb_bench there and drops it after.
pg_admin=${FLSDB_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
if [ -n "${BENCH_QUICK:-}" ]; then
    echo "bench: BENCH_QUICK set: PostgreSQL steps skipped" >&2
elif command -v psql >/dev/null && psql "$pg_admin" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    pg_db=${pg_admin%/*}/flsdb_bench
    psql "$pg_admin" -qc 'DROP DATABASE IF EXISTS flsdb_bench WITH (FORCE)' >/dev/null
    psql "$pg_admin" -qc 'CREATE DATABASE flsdb_bench' >/dev/null
    $bin import services "$data/services.csv" --db "$pg_db" >/dev/null
    $bin import opt-outs "$data/opt_outs.txt" --db "$pg_db" >/dev/null
    {
        echo -e "step\tseconds\tpeak_MiB"
        measure import_postgres $bin import records "$data/records.csv" --db "$pg_db"
        measure reimport_postgres $bin import records "$data/records.csv" --db "$pg_db"
        if $bin kpi --help >/dev/null 2>&1; then
            measure kpi_postgres $bin kpi --db "$pg_db" --year 2023 --as-of 2025-06-30
            # Same options as the SQLite step above, so the two outputs must be equal.
            if [ -f "$out/kpi_sqlite.out" ] && ! cmp -s "$out/kpi_postgres.out" "$out/kpi_sqlite.out"; then
                echo "bench: WARNING: kpi from PostgreSQL differs from kpi from SQLite" >&2
            fi
        fi
    } | tee "$out/results-postgres.tsv"
    awk -F'\t' -v rows="$rows" 'NR > 1 && $2 > 0 && $1 ~ /import/ {
        printf "%-18s %10.0f rows/s\n", $1, rows / $2 }' "$out/results-postgres.tsv"
    psql "$pg_admin" -qc 'DROP DATABASE IF EXISTS flsdb_bench WITH (FORCE)' >/dev/null
else
    echo "bench: no PostgreSQL at $pg_admin (set FLSDB_BENCH_POSTGRES_URL): PostgreSQL steps skipped" >&2
fi
