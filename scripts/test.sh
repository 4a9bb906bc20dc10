#!/usr/bin/env bash
# The project's one test command (README "Run the tests"; .ci/run calls it too).
# Starts what the tests need and runs every test of the workspace.
#
# PostgreSQL: store tests run against SQLite always and against PostgreSQL when
# FLSDB_TEST_POSTGRES_URL is set. This script starts the local server if one is installed and
# sets the variable; under CI (CI=true) a missing PostgreSQL is an error, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url_default="postgres://postgres@127.0.0.1:5432/test"

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

start_postgres() {
    pg_ready && return 0
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        if [ "${CI:-}" = "true" ] || [ "${FLSDB_INSTALL_POSTGRES:-}" = "1" ]; then
            echo "test.sh: installing PostgreSQL (Debian package)" >&2
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        else
            return 1
        fi
    fi
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || return 1
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
    pg_ready || return 1
    # Trust auth for local test connections, and the test database.
    psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null | grep -q 1 \
        || su postgres -c "createdb test" 2>/dev/null || true
}

if [ -z "${FLSDB_TEST_POSTGRES_URL:-}" ]; then
    if start_postgres && psql "$pg_url_default" -tAc "SELECT 1" >/dev/null 2>&1; then
        export FLSDB_TEST_POSTGRES_URL="$pg_url_default"
    elif [ "${CI:-}" = "true" ]; then
        echo "test.sh: CI needs PostgreSQL on 127.0.0.1:5432 (user postgres, database test) and none could be started" >&2
        exit 1
    else
        echo "test.sh: no PostgreSQL on 127.0.0.1:5432: PostgreSQL tests are SKIPPED (set FLSDB_TEST_POSTGRES_URL to run them)" >&2
    fi
fi
[ -n "${FLSDB_TEST_POSTGRES_URL:-}" ] && echo "test.sh: PostgreSQL tests use $FLSDB_TEST_POSTGRES_URL" >&2

# poppler-utils (pdftotext, pdftoppm): the report tests read the PDFs back and render pages to
# target/test-artifacts/. Installed under CI (or with FLSDB_INSTALL_POPPLER=1); elsewhere the PDF
# text checks are skipped with a message when it is missing, and fail under CI=true.
if ! command -v pdftotext >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ] || [ "${FLSDB_INSTALL_POPPLER:-}" = "1" ]; then
        echo "test.sh: installing poppler-utils (Debian package)" >&2
        apt-get install -y -qq poppler-utils >/dev/null 2>&1 \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; }
    else
        echo "test.sh: no pdftotext (poppler-utils): PDF text checks of the report tests are SKIPPED" >&2
    fi
fi

# Browser tests (crates/web/tests/browser.rs) need Debian's chromium and chromium-driver; under CI
# they are installed when missing, elsewhere the tests say they are skipped.
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ] || [ "${FLSDB_INSTALL_CHROMIUM:-}" = "1" ]; then
        echo "test.sh: installing chromium and chromium-driver (Debian packages)" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "test.sh: no chromium/chromedriver: browser tests are SKIPPED (FLSDB_INSTALL_CHROMIUM=1 installs them)" >&2
    fi
fi

cargo test --workspace --locked "$@"
