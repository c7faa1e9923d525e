#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine: installs what it needs, starts
# a private PostgreSQL, runs every test (unit, property, integration, end-to-end) on
# SQLite and PostgreSQL. CI (`.ci/run`) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# A test run is not an edit loop: no incremental state (gigabytes of it for the
# workspace's crates); the build's peak disk is what CI's machine must hold.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
scripts/install-deps.sh --test
eval "$(scripts/postgres.sh)"
export TONGHU_TEST_DATABASE_URL
echo "test.sh: PostgreSQL at ${TONGHU_TEST_DATABASE_URL%%@*}@…" >&2
# The Tauri app embeds ui/dist when it compiles: build the UI first.
scripts/build-ui.sh
cargo build --workspace --bins
# The phone of the previous release, built from git (tests/src/previous_release.rs) now,
# so its first build does not spend the compatibility test's time limit.
cargo run -q -p tonghu-tests --bin previous-release >/dev/null
# The supervisor console in a real browser (Debian's Chromium), SQLite and PostgreSQL:
# its pages, and active discovery (an XLSX and an XLS list through preview and commit).
(
  cd sync-server/tests/browser
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >&2
  node --test --test-concurrency=1 console.test.mjs discovery.test.mjs
)
# The field app's UI in a real browser against the real core and server.
scripts/test-ui.sh
# The real Tauri binary under Xvfb through tauri-driver: enroll, PIN, visit, roster.
scripts/test-tauri.sh
# nextest's summary line is the run's last word (there are no doc tests to run).
cargo nextest run --workspace --profile ci "$@"
