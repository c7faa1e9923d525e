#!/usr/bin/env bash
# Runs Tonghu on the embedded default: the sync server on SQLite with a seeded demo city,
# the supervisor console, and the field app — the same UI in a browser through the
# bridge, with its address printed, and also in the Tauri window where there is a
# display (TONGHU_WINDOW=0 to skip the window, =1 to insist). Ctrl-C stops everything;
# data stays in ./tonghu-data (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TONGHU_WINDOW:-}" ]; then
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -f src-tauri/Cargo.toml ]; then TONGHU_WINDOW=1; else TONGHU_WINDOW=0; fi
fi
export TONGHU_WINDOW
scripts/install-deps.sh
cargo build --release -p sync-server -p field-app -p field-bridge
scripts/build-ui.sh
BIN=target/release
DATA="${TONGHU_DATA:-$PWD/tonghu-data}"
LISTEN="${TONGHU_LISTEN:-127.0.0.1:8470}"
APP_LISTEN="${TONGHU_APP_LISTEN:-127.0.0.1:8471}"
mkdir -p "$DATA"

MONTH=$(date +%Y-%m)
if [ ! -f "$DATA/demo-codes.txt" ]; then
  "$BIN/sync-server" admin --data "$DATA/server" seed-demo | tee "$DATA/demo-codes.txt"
  # Active discovery: two of this month's allowance lists as a county office sends them;
  # the 低保 list is imported now (its findings become tasks on the village phones), the
  # disability list is left for the county admin to try on the console's import page.
  "$BIN/sync-server" admin --data "$DATA/server" demo-list --kind dibao_rural --month "$MONTH" > "$DATA/demo-dibao-$MONTH.csv"
  "$BIN/sync-server" admin --data "$DATA/server" demo-list --kind disability_care --month "$MONTH" > "$DATA/demo-disability-$MONTH.csv"
  "$BIN/sync-server" admin --data "$DATA/server" import-list --account admin-370602 \
    --kind dibao_rural --month "$MONTH" --file "$DATA/demo-dibao-$MONTH.csv"
fi
DIRECTOR=$(awk '/^director/ {print $2}' "$DATA/demo-codes.txt")

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

"$BIN/sync-server" serve --data "$DATA/server" --listen "$LISTEN" &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

# A headless phone of the demo director, synced, for the command line.
FIELDCTL=("$BIN/fieldctl" --data "$DATA/demo-device")
if [ ! -f "$DATA/demo-device/enrolled" ]; then
  CODE=$(awk '/^director/ {print $NF}' "$DATA/demo-codes.txt")
  "${FIELDCTL[@]}" enroll --server "http://$LISTEN" --code "$CODE"
  touch "$DATA/demo-device/enrolled"
fi
"${FIELDCTL[@]}" sync
"${FIELDCTL[@]}" roster | head -n 8

# The field app's own phone: enrolled on its first screen with a code issued now.
APP_DIR="$DATA/app-device"
mkdir -p "$APP_DIR"
APP_CODE=""
if [ ! -f "$APP_DIR/keys.json" ]; then
  APP_CODE=$("$BIN/sync-server" admin --data "$DATA/server" enroll-code --account "$DIRECTOR" | awk '{print $NF}' | tail -n 1)
fi
"$BIN/field-bridge" --data "$APP_DIR" --listen "$APP_LISTEN" --ui ui/dist >/dev/null &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://$APP_LISTEN/" >/dev/null 2>&1 && break
  sleep 0.1
done

echo
echo "Tonghu sync server:  http://$LISTEN   (data: $DATA)"
echo "Field app (browser): http://$APP_LISTEN/   open it at phone size (360×640)"
if [ -n "$APP_CODE" ]; then
  echo "                     first screen: server http://$LISTEN  enrollment code $APP_CODE"
  echo "                     then choose a 6-digit PIN (not 123456 or one digit repeated)"
fi
if [ "$TONGHU_WINDOW" = 1 ]; then
  WIN_DIR="$APP_DIR-window"
  WIN_CODE=""
  [ -f "$WIN_DIR/keys.json" ] || WIN_CODE=$("$BIN/sync-server" admin --data "$DATA/server" enroll-code --account "$DIRECTOR" | awk '{print $NF}' | tail -n 1)
  echo "Field app (window):  building the Tauri app (the first time takes a while)…"
  cargo build --release -p tonghu-app
  TONGHU_DEVICE_DIR="$WIN_DIR" "$BIN/tonghu-app" &
  pids+=($!)
  echo "Field app (window):  started (data: $WIN_DIR)"
  [ -z "$WIN_CODE" ] || echo "                     first screen: server http://$LISTEN  enrollment code $WIN_CODE"
fi
echo "Device CLI:          $BIN/fieldctl --data $DATA/demo-device roster | status | child show ID | visit add CHILD --mode home --risk green | sync"
echo "Supervisor code:     $(awk '/^supervisor/ {print $NF}' "$DATA/demo-codes.txt")   (enrolls a supervisor's phone)"
echo "Supervisor console:  http://$LISTEN/console   first login at http://$LISTEN/console/first-login with"
awk '/^console/ {printf "                     login %-16s one-time code %s\n", $2, $NF}' "$DATA/demo-codes.txt"
echo "                     (then choose a password of 10+ characters; demo-codes.txt keeps the codes)"
echo "Active discovery:    the county admin (admin-370602) imports allowance lists at http://$LISTEN/console/discovery"
echo "                     this month's 低保 list is imported (tasks on the phones of 演示村1 and 演示村5);"
echo "                     try the disability list yourself: $DATA/demo-disability-$MONTH.csv"
echo "Ctrl-C to stop."
wait "${pids[0]}"
