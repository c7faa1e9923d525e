#!/usr/bin/env bash
# The field app's UI: node packages from ui/package-lock.json (npm ci, skipped when the
# installed ones already match it), then `npm run build` into ui/dist, which the
# bridge serves and the Tauri app embeds when it compiles.
#   scripts/build-ui.sh            install and build
#   scripts/build-ui.sh --install  install only
set -euo pipefail
cd "$(dirname "$0")/../ui"
{ [ -d node_modules ] && npm ls --depth=0 >/dev/null 2>&1; } || npm ci --no-audit --no-fund >&2
[ "${1:-}" = "--install" ] || npm run build --silent
