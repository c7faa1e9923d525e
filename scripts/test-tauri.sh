#!/usr/bin/env bash
# The Tauri app end to end: the real binary under Xvfb, driven through tauri-driver and
# Debian's WebKitWebDriver, against a real sync-server on loopback
# (src-tauri/tests/e2e/app.test.mjs). Installs what it needs (scripts/install-deps.sh
# --test: WebKitGTK, webkit2gtk-driver, Xvfb, tauri-driver), builds the UI and the
# binaries, then runs the test. Screenshots go to docs/screenshots/tauri-*.png.
#   scripts/test-tauri.sh             the test
#   scripts/test-tauri.sh --bench     cold start to the unlock screen (BENCHMARKS.md);
#                                     TONGHU_PROFILE=release to time the release binary
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
scripts/build-ui.sh
profile="${TONGHU_PROFILE:-debug}"
cargo build -p sync-server -p field-bridge
if [ "$profile" = release ]; then
  cargo build --release -p tonghu-app
else
  cargo build -p tonghu-app
fi
# No GPU under Xvfb: without this WebKitGTK's DMA-BUF renderer paints a blank window.
export WEBKIT_DISABLE_DMABUF_RENDERER=1 TONGHU_PROFILE="$profile"
if [ "${1:-}" = "--bench" ]; then
  shift
  exec xvfb-run -a -s "-screen 0 1280x1024x24" node src-tauri/tests/e2e/cold-start.mjs "$@"
fi
exec xvfb-run -a -s "-screen 0 1280x1024x24" node --test --test-concurrency=1 src-tauri/tests/e2e/app.test.mjs
