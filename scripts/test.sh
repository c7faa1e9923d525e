#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine: installs what it needs, starts
# a private PostgreSQL, runs every test (unit, property, integration, end-to-end) on
# SQLite and PostgreSQL. CI (`.ci/run`) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
eval "$(scripts/postgres.sh)"
export TONGHU_TEST_DATABASE_URL
echo "test.sh: PostgreSQL at ${TONGHU_TEST_DATABASE_URL%%@*}@…" >&2
cargo build --workspace --bins
scripts/test-ui.sh
# nextest's summary line is the run's last word (there are no doc tests to run).
cargo nextest run --workspace --profile ci "$@"
