#!/usr/bin/env bash
# The field app UI's tests: node packages from the lockfile, the build, unit tests of
# the pure TypeScript, then the browser tests (Debian's Chromium at 360×640) against
# the real core through the bridge and a real sync-server on loopback.
#   scripts/test-ui.sh            everything
#   scripts/test-ui.sh --unit     unit tests only (no Rust build, no browser)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-ui.sh --install
( cd ui && npx svelte-check --tsconfig ./tsconfig.json --fail-on-warnings && npm run build --silent && node tests/run-unit.mjs )
[ "${1:-}" = "--unit" ] && exit 0
cargo build -p sync-server -p field-bridge
( cd ui && node --test --test-concurrency=1 tests/browser/ )
