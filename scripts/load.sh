#!/usr/bin/env bash
# Load test of the service dashboard (issue 5): a demo database of RECORDS synthetic records
# (default 500,000), `flsdb serve` (release build) on it, and SESSIONS concurrent sessions
# (default 200, each logged in separately) requesting /dashboard/service on keep-alive
# connections for DURATION seconds (default 30). Prints p50/p90/p99/max latency, throughput,
# errors and the load average. Goal: p99 < 50 ms and 0 errors at 200 sessions.
#
# The load client is crates/web/examples/load.rs (plain tokio, no extra crates: oha would build
# ~200 crates here for the same numbers, and sends one cookie for every connection).
#
#   scripts/load.sh                 # defaults
#   RECORDS=1000000 SESSIONS=400 DURATION=60 scripts/load.sh
#   THINK_MS=1000 scripts/load.sh   # each session waits 1 s between pages, like a person
#
# The database is built once in target/load/ and reused (delete the folder to rebuild).
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS=${RECORDS:-500000}
SESSIONS=${SESSIONS:-200}
DURATION=${DURATION:-30}
THINK_MS=${THINK_MS:-0}
PORT=${PORT:-18080}
PAGE=${PAGE:-/dashboard/service}
DIR=${LOAD_DIR:-target/load/r$RECORDS}
DB="$DIR/flsdb.sqlite"
export LOAD_PASSWORD="load-test-lead-password"

echo "load.sh: building flsdb and the load client (release)" >&2
cargo build --release --locked -p flsdb --bin flsdb -p flsdb-web --example load >&2
FLSDB=target/release/flsdb
LOAD=target/release/examples/load

if [ ! -s "$DB" ]; then
    echo "load.sh: building the demo database $DB ($RECORDS records)" >&2
    mkdir -p "$DIR"
    year=$(date +%Y)
    "$FLSDB" synth --records "$RECORDS" --services 80 --years "$((year - 4))-$((year - 1))" --seed 2016 --out "$DIR/data" >&2
    "$FLSDB" import services "$DIR/data/services.csv" --db "$DB" >&2
    "$FLSDB" import opt-outs "$DIR/data/opt_outs.txt" --db "$DB" --allow-test-nhs-numbers >&2 || true
    "$FLSDB" import records "$DIR/data/records.csv" --db "$DB" --allow-test-nhs-numbers >&2
    first_service=$(sed -n 2p "$DIR/data/services.csv" | cut -d, -f1)
    echo "$LOAD_PASSWORD" | "$FLSDB" user add lead --role service_lead --service "$first_service" --password-stdin --db "$DB" >&2
fi

"$FLSDB" serve --db "$DB" --bind "127.0.0.1:$PORT" --allow-test-nhs-numbers >"$DIR/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null

records=$(sqlite3 "$DB" "SELECT COUNT(*) FROM records" 2>/dev/null || echo "$RECORDS")
echo "records        $records"
echo "cores          $(nproc)"
echo "load before    $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
"$LOAD" --url "http://127.0.0.1:$PORT" --user lead --password-env LOAD_PASSWORD --path "$PAGE" \
    --sessions "$SESSIONS" --seconds "$DURATION" --think-ms "$THINK_MS" || status=$?
echo "load after     $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
