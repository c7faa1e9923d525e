#!/usr/bin/env bash
# Installs what building and testing Tonghu needs on a fresh Debian/Ubuntu machine.
# Idempotent: only what is missing is installed. Run as root, or with sudo available.
#   scripts/install-deps.sh          build tools (run command)
#   scripts/install-deps.sh --test   also test tools (PostgreSQL, moto for S3, nextest)
set -euo pipefail
log() { echo "install-deps: $*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

want=(build-essential pkg-config perl make curl ca-certificates)
# The field app's UI is built with Node (npm ci from ui/package-lock.json).
command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
if [ "${1:-}" = "--test" ]; then
  want+=(postgresql postgresql-client python3-pip python3-venv)
  # Browser tests of the UI: Debian's Chromium (never a downloaded browser) and CJK
  # fonts so screenshots show Chinese, not boxes.
  want+=(chromium chromium-driver fonts-noto-cjk)
fi
missing=()
for p in "${want[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  log "cargo not found: install Rust (rustup) first"; exit 1
fi

if [ "${1:-}" = "--test" ]; then
  if ! cargo nextest --version >/dev/null 2>&1; then
    log "installing cargo-nextest from crates.io"
    cargo install cargo-nextest --locked >&2
  fi
  # A local S3-compatible server for the object-storage blob tests.
  if ! python3 -c "import moto.server" >/dev/null 2>&1; then
    log "pip install moto[server]"
    python3 -m pip install --quiet 'moto[server]' >&2 \
      || python3 -m pip install --quiet --break-system-packages 'moto[server]' >&2
  fi
fi
