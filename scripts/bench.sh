#!/usr/bin/env bash
# Benchmarks of issue-level performance goals, on synthetic data (see README "Performance").
# Usage: scripts/bench.sh [RECORDS]   (default 1000000). Writes bench-out/ and prints a table.
# Every figure is one run of the release binary, wall time and peak memory from /usr/bin/time;
# baselines are measured in the same run so ratios compare like with like.
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
    printf '%s\t%s\t%s\n' "$label" "$secs" "$((kib / 1024))"
}

data=$out/data-$records
if [ ! -f "$data/records.csv" ]; then
    $bin synth --records "$records" --services 80 --years 2016-2024 --seed 1 --as-of 2025-06-30 --out "$data" >&2
fi
rows=$(($(wc -l <"$data/records.csv") - 1))
size=$(du -m "$data/records.csv" | cut -f1)
echo "# $rows records, ${size} MiB CSV" >&2

{
    echo -e "step\tseconds\tpeak_MiB"
    measure read_baseline wc -l "$data/records.csv"
    measure check $bin check "$data/records.csv" --services "$data/services.csv"
    rm -f "$out/bench.sqlite"*
    $bin import services "$data/services.csv" --db "$out/bench.sqlite" >/dev/null
    $bin import opt-outs "$data/opt_outs.txt" --db "$out/bench.sqlite" >/dev/null
    measure import_sqlite $bin import records "$data/records.csv" --db "$out/bench.sqlite"
    measure reimport_sqlite $bin import records "$data/records.csv" --db "$out/bench.sqlite"
    if $bin kpi --help >/dev/null 2>&1; then
        measure kpi_csv $bin kpi --records "$data/records.csv" --services "$data/services.csv" \
            --opt-outs "$data/opt_outs.txt" --year 2023 --as-of 2025-06-30
        measure kpi_sqlite $bin kpi --db "$out/bench.sqlite" --year 2023 --as-of 2025-06-30
    fi
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
    printf "%-16s %10.0f rows/s\n", $1, rows / $2 }' "$out/results.tsv"
