#!/usr/bin/env bash
# Runs Tonghu on the embedded default: the sync server on SQLite with a seeded demo
# city, and a child director's device enrolled and synced against it. (The phone app
# joins here when it lands; until then the device is `fieldctl`, the headless app.)
# Ctrl-C stops the server; data stays in ./tonghu-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release -p sync-server -p field-store --bins
BIN=target/release
DATA="${TONGHU_DATA:-$PWD/tonghu-data}"
LISTEN="${TONGHU_LISTEN:-127.0.0.1:8470}"
DEVICE="$DATA/demo-device"
mkdir -p "$DATA"

if [ ! -f "$DATA/demo-codes.txt" ]; then
  "$BIN/sync-server" admin --data "$DATA/server" seed-demo | tee "$DATA/demo-codes.txt"
fi
"$BIN/sync-server" serve --data "$DATA/server" --listen "$LISTEN" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

FIELDCTL=("$BIN/fieldctl" --data "$DEVICE")
if [ ! -f "$DEVICE/enrolled" ]; then
  CODE=$(awk '/^director/ {print $NF}' "$DATA/demo-codes.txt")
  "${FIELDCTL[@]}" enroll --server "http://$LISTEN" --code "$CODE"
  touch "$DEVICE/enrolled"
fi
"${FIELDCTL[@]}" sync
"${FIELDCTL[@]}" roster | head -n 20
echo
echo "Tonghu sync server: http://$LISTEN   (data: $DATA)"
echo "Device CLI:         $BIN/fieldctl --data $DEVICE roster | status | child show ID | visit add CHILD | sync"
echo "Supervisor code:    $(awk '/^supervisor/ {print $NF}' "$DATA/demo-codes.txt")   (enrolls a supervisor's phone)"
echo "Supervisor console: http://$LISTEN/console   first login at http://$LISTEN/console/first-login with"
awk '/^console/ {printf "                    login %-16s one-time code %s\n", $2, $NF}' "$DATA/demo-codes.txt"
echo "                    (then choose a password of 10+ characters; later log in at http://$LISTEN/console/login."
echo "                    A code works once, within 72 h; a new one: $BIN/sync-server admin --data $DATA/server login-code --account LOGIN)"
echo "Ctrl-C to stop."
wait $SERVER
