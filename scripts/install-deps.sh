#!/usr/bin/env bash
# Installs what building and testing Tonghu needs on a fresh Debian/Ubuntu machine.
# Idempotent: only what is missing is installed. Run as root, or with sudo available.
#   scripts/install-deps.sh          build tools (run command), the CJK font printed copies use
#   scripts/install-deps.sh --test   also test tools (PostgreSQL, moto for S3, nextest;
#                                    Chromium, Node and npm, schemathesis for the browser
#                                    and API tests; poppler-utils to read printed PDFs back;
#                                    WebKitGTK, webkit2gtk-driver, Xvfb and tauri-driver for
#                                    the Tauri app's end-to-end test)
#   scripts/install-deps.sh --scale-out   what scripts/bench-scale-out.sh needs and
#                                    nothing else: PostgreSQL, Debian's nginx (the load
#                                    balancer in front of the server processes), moto
#                                    (the S3-compatible server)
set -euo pipefail
log() { echo "install-deps: $*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# fonts-noto-cjk: Noto Sans CJK (OFL), the font agreement-pdf sets printed copies in.
want=(build-essential pkg-config perl make curl ca-certificates fonts-noto-cjk)
# The field app's UI is built with Node (npm ci from ui/package-lock.json).
command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
# The Tauri app's window (scripts/run.sh with TONGHU_WINDOW=1) builds on WebKitGTK.
[ "${TONGHU_WINDOW:-0}" = 1 ] && want+=(libwebkit2gtk-4.1-dev libxdo-dev)
if [ "${1:-}" = "--test" ]; then
  want+=(postgresql postgresql-client python3-pip python3-venv)
  # The browser tests drive Debian's Chromium (never a downloaded browser).
  want+=(chromium chromium-driver)
  # agreement-pdf's tests: pdftotext/pdffonts/pdftoppm, and a font without Chinese.
  want+=(poppler-utils fonts-dejavu-core)
  # The Tauri app (src-tauri) builds on WebKitGTK; its end-to-end test drives the real
  # window under Xvfb through tauri-driver and Debian's WebKitWebDriver.
  want+=(libwebkit2gtk-4.1-dev libxdo-dev webkit2gtk-driver xvfb xauth)
  # Its screenshots are read from the X display (WebKitWebDriver's own never answers).
  want+=(imagemagick)
fi
if [ "${1:-}" = "--scale-out" ]; then
  want=(postgresql postgresql-client nginx python3-pip)
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

if [ "${1:-}" = "--scale-out" ]; then
  if ! python3 -c "import moto.server, boto3" >/dev/null 2>&1; then
    log "pip install moto[server]"
    python3 -m pip install --quiet 'moto[server]' >&2 \
      || python3 -m pip install --quiet --break-system-packages 'moto[server]' >&2
  fi
  exit 0
fi

if [ "${1:-}" = "--test" ]; then
  if ! cargo nextest --version >/dev/null 2>&1; then
    log "installing cargo-nextest from crates.io"
    cargo install cargo-nextest --locked >&2
  fi
  # tauri-driver: the WebDriver front of the Tauri app's end-to-end test (crates.io).
  if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
    log "installing tauri-driver from crates.io"
    cargo install tauri-driver --locked >&2
  fi
  # The property-based fuzzer run against the console's OpenAPI file.
  if ! command -v schemathesis >/dev/null 2>&1; then
    log "pip install schemathesis"
    python3 -m pip install --quiet schemathesis >&2 \
      || python3 -m pip install --quiet --break-system-packages schemathesis >&2
  fi
  # A local S3-compatible server for the object-storage blob tests.
  if ! python3 -c "import moto.server" >/dev/null 2>&1; then
    log "pip install moto[server]"
    python3 -m pip install --quiet 'moto[server]' >&2 \
      || python3 -m pip install --quiet --break-system-packages 'moto[server]' >&2
  fi
fi
