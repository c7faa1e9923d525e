#!/usr/bin/env bash
# Issue 16 §3: the morning burst against several sync-server processes over one
# PostgreSQL with blobs in S3-compatible storage, behind nginx, one process killed and
# restarted mid-burst; beside it, in the same session, the same day's work on one
# process over SQLite (blobs on disk) behind the same nginx. Prints per-device costs.
# Run it on a QUIET machine (nothing else building or testing).
#
#   scripts/bench-scale-out.sh                     # 6,735 devices, 2 processes
#   DEVICES=200 PROCESSES=3 scripts/bench-scale-out.sh
#   SKIP_BUILD=1 BIN=target/release scripts/bench-scale-out.sh
#
# What it starts, and stops again at the end (or on failure):
#   - the private PostgreSQL (scripts/postgres.sh; stopped only if this script started
#     it) and a fresh database in it;
#   - moto (python3 -m moto.server), the S3-compatible server the blob tests use, and a
#     bucket in it;
#   - PROCESSES sync-server processes on that database and bucket (SQLite run: one
#     process on a data folder);
#   - Debian's nginx (scripts/install-deps.sh --scale-out installs it) in front of them:
#     every request goes to the next process (round robin), so the devices are spread
#     by the load balancer, not by the load generator; a request that cannot reach a
#     process (refused connection) goes to the next one.
# Then loadgen (--server-url nginx --retry --check-all): setup, a day's work offline,
# pause (the "before" figures are taken), the burst; KILL_AFTER seconds into the burst
# process 1 is SIGKILLed and started again RESTART_AFTER seconds later; after the burst
# every device syncs again and compares its villages' checksums with the server.
# Fails if there was any error or any device differs from the server.
#
# Per device (the burst is one device-day: a day's work of one director):
#   server CPU-ms   sync-server processes' user+system CPU in the burst / devices
#                   (the killed process up to its kill, its successor from its start)
#   PostgreSQL CPU  the CPU of this database's backend processes in the burst / devices
#   bytes in / out  what nginx read from the devices / sent to them in the burst
#                   (request and response sizes with headers, from its access log)
#   rows stored     rows added to every table in the burst / devices
#   bytes stored    database size added (PostgreSQL: pg_database_size; SQLite: the
#                   pages in use, its WAL's included) and blob bytes added (bucket /
#                   blob folder) / devices
# Every report and log goes to $OUT (default /tmp/bench-scale-out).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-/tmp/bench-scale-out}"
DEVICES="${DEVICES:-6735}"
PROCESSES="${PROCESSES:-2}"
KILL_AFTER="${KILL_AFTER:-20}"
RESTART_AFTER="${RESTART_AFTER:-3}"
BIN="${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"
log() { echo "bench-scale-out: $*" >&2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building release binaries into $BIN"
  (cd "$ROOT" && cargo build --release -p sync-server -p tonghu-tests --bins >&2)
fi
for b in sync-server loadgen; do
  [ -x "$BIN/$b" ] || { log "$BIN/$b is missing (build it, or set BIN)"; exit 1; }
done
if ! command -v nginx >/dev/null 2>&1 || ! python3 -c "import moto.server, boto3" 2>/dev/null; then
  "$ROOT/scripts/install-deps.sh" --scale-out
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

rm -rf "$OUT"
mkdir -p "$OUT"
PIDS=()
STARTED_PG=0
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -f "$OUT/nginx/nginx.pid" ] && kill "$(cat "$OUT/nginx/nginx.pid")" 2>/dev/null || true
  if [ "$STARTED_PG" = 1 ]; then "$ROOT/scripts/postgres.sh" stop >&2 || true; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # <url> <what>
  for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  log "$2 did not answer at $1"; exit 1
}
cpu_ms() { # user+system CPU of a process, ms (0 if gone)
  awk '{ print ($14 + $15) * 10 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# --- PostgreSQL, moto ------------------------------------------------------------------
if ! pg_isready -h 127.0.0.1 -p "$(cat /var/tmp/tonghu-pg/port 2>/dev/null || echo 55432)" -q 2>/dev/null; then
  STARTED_PG=1
fi
eval "$("$ROOT/scripts/postgres.sh")"
ADMIN_URL="$TONGHU_TEST_DATABASE_URL"
DB="scale_$(date +%s)"
psql "$ADMIN_URL" -qc "CREATE DATABASE $DB" >&2
DB_URL="${ADMIN_URL%/*}/$DB"

MOTO_PORT="$(free_port)"
python3 -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$OUT/moto.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" moto
export TONGHU_S3_ACCESS_KEY=bench TONGHU_S3_SECRET_KEY=bench-secret
python3 - "$MOTO_PORT" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
             aws_access_key_id="bench", aws_secret_access_key="bench-secret").create_bucket(Bucket="tonghu")
PY

# --- servers and nginx -----------------------------------------------------------------
declare -a SPORT SPID
start_server() { # <i> <storage args...>
  local i="$1"; shift
  "$BIN/sync-server" serve --listen "127.0.0.1:${SPORT[$i]}" "$@" \
    >>"$OUT/server-$i.log" 2>&1 &
  SPID[$i]=$!
  PIDS+=("${SPID[$i]}")
  wait_http "http://127.0.0.1:${SPORT[$i]}/healthz" "sync-server $i"
}
start_nginx() { # <n servers>
  mkdir -p "$OUT/nginx/tmp" && chmod 777 "$OUT/nginx/tmp"
  local upstream=""
  for i in $(seq 1 "$1"); do
    upstream+="    server 127.0.0.1:${SPORT[$i]} max_fails=1 fail_timeout=2s;"$'\n'
  done
  NGINX_PORT="$(free_port)"
  cat >"$OUT/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log warn;
events { worker_connections 4096; }
http {
  log_format bytes '\$msec \$request_length \$bytes_sent \$status \$upstream_addr';
  access_log $OUT/nginx/access.log bytes;
  client_body_temp_path $OUT/nginx/tmp/body;
  proxy_temp_path $OUT/nginx/tmp/proxy;
  fastcgi_temp_path $OUT/nginx/tmp/fastcgi;
  uwsgi_temp_path $OUT/nginx/tmp/uwsgi;
  scgi_temp_path $OUT/nginx/tmp/scgi;
  client_max_body_size 20m;
  client_body_buffer_size 1m;
  upstream tonghu {
$upstream    keepalive 64;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://tonghu;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      # Only a request that never reached a process goes to the next one (POSTs are
      # not repeated by nginx: the device retries, and the server takes a push twice
      # as once).
      proxy_next_upstream error timeout;
      proxy_read_timeout 60s;
    }
  }
}
EOF
  "$NGINX" -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" -g 'daemon off;' 2>>"$OUT/nginx/error.log" &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$NGINX_PORT/healthz" nginx
}
stop_nginx() {
  [ -f "$OUT/nginx/nginx.pid" ] && kill "$(cat "$OUT/nginx/nginx.pid")" 2>/dev/null || true
  sleep 0.5
}

# Rows in every table and the database's bytes (PostgreSQL).
pg_stored() {
  psql "$DB_URL" -At -F' ' <<'SQL'
SELECT (SELECT sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text::bigint)
          FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'),
       pg_database_size(current_database());
SQL
}
# Bytes in the bucket.
s3_bytes() {
  python3 - "$MOTO_PORT" <<'PY'
import sys, boto3
c = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                 aws_access_key_id="bench", aws_secret_access_key="bench-secret")
n = 0
for page in c.get_paginator("list_objects_v2").paginate(Bucket="tonghu"):
    n += sum(o["Size"] for o in page.get("Contents", []))
print(n)
PY
}
# Rows in every table and the database's bytes (SQLite, read while the server runs).
sqlite_stored() { # <data dir>
  python3 - "$1" <<'PY'
import os, sys, sqlite3
d = sys.argv[1]; db = os.path.join(d, "tonghu.sqlite3")
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
tables = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
rows = sum(c.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
# The database's logical size (pages in use, the WAL's included), not the files: the
# WAL file grows until a checkpoint and would count pages twice.
pages = c.execute("PRAGMA page_count").fetchone()[0] - c.execute("PRAGMA freelist_count").fetchone()[0]
size = pages * c.execute("PRAGMA page_size").fetchone()[0]
print(rows, size)
PY
}
dir_bytes() { du -sb "$1" 2>/dev/null | cut -f1 || echo 0; }
# Sum of the CPU of this database's PostgreSQL backends, ms.
pg_cpu_ms() {
  local total=0 pid
  for pid in $(psql "$ADMIN_URL" -At -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'"); do
    total=$((total + $(cpu_ms "$pid")))
  done
  echo "$total"
}
# Bytes nginx read and sent between two times (seconds since the epoch).
nginx_bytes() { # <from> <to>
  awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b { i += $2; o += $3 } END { printf "%d %d\n", i, o }' \
    "$OUT/nginx/access.log"
}

# One run: loadgen through nginx, paused before the burst for the "before" figures.
# <name> <kill: 0|1> <loadgen storage args...>
run() {
  local name="$1" kill="$2"; shift 2
  local pause="$OUT/$name.pause" after="$OUT/$name.after" report="$OUT/$name.json"
  rm -f "$pause" "$after"
  "$BIN/loadgen" --devices "$DEVICES" --quiet --server-url "http://127.0.0.1:$NGINX_PORT" \
    --retry --check-all --pause-before-burst "$pause" --pause-after-burst "$after" \
    --workdir "$OUT/$name-work" \
    --report "$report" "$@" >"$OUT/$name-loadgen.log" 2>&1 &
  local lg=$!
  while [ ! -f "$pause" ]; do
    kill -0 "$lg" 2>/dev/null || { log "loadgen ($name) stopped before the burst:"; tail -20 "$OUT/$name-loadgen.log" >&2; exit 1; }
    sleep 0.2
  done
  # Before the burst.
  local i
  declare -A cpu_start
  for i in $(seq 1 "$SERVERS"); do cpu_start[$i]=$(cpu_ms "${SPID[$i]}"); done
  if [ "$ENGINE" = postgres ]; then
    read -r rows0 bytes0 < <(pg_stored); blobs0=$(s3_bytes); pgcpu0=$(pg_cpu_ms)
  else
    read -r rows0 bytes0 < <(sqlite_stored "$OUT/sqlite-data"); blobs0=$(dir_bytes "$OUT/sqlite-data/blobs"); pgcpu0=0
  fi
  local t0; t0=$(date +%s.%N)
  rm -f "$pause"
  log "$name: burst of $DEVICES devices started"
  local killed_cpu=0
  if [ "$kill" = 1 ]; then
    sleep "$KILL_AFTER"
    if kill -0 "$lg" 2>/dev/null; then
      killed_cpu=$(( $(cpu_ms "${SPID[1]}") - ${cpu_start[1]} ))
      log "$name: killing sync-server 1 (pid ${SPID[1]}) ${KILL_AFTER} s into the burst"
      kill -9 "${SPID[1]}"
      sleep "$RESTART_AFTER"
      start_server 1 --data "$OUT/pg-data-1" --database-url "$DB_URL" \
        --blobs s3://tonghu --s3-endpoint "http://127.0.0.1:$MOTO_PORT"
      cpu_start[1]=$(cpu_ms "${SPID[1]}")
      log "$name: sync-server 1 restarted (pid ${SPID[1]})"
    else
      log "$name: the burst ended before ${KILL_AFTER} s: nothing killed (use a smaller KILL_AFTER)"
    fi
  fi
  # After the burst (loadgen waits, then checks every device against the server).
  while [ ! -f "$after" ]; do
    kill -0 "$lg" 2>/dev/null || { log "loadgen ($name) stopped in the burst:"; tail -20 "$OUT/$name-loadgen.log" >&2; exit 1; }
    sleep 0.1
  done
  local t1; t1=$(date +%s.%N)
  local cpu=$killed_cpu
  for i in $(seq 1 "$SERVERS"); do cpu=$((cpu + $(cpu_ms "${SPID[$i]}") - ${cpu_start[$i]})); done
  local pgcpu=$(( $(pg_cpu_ms) - pgcpu0 ))
  if [ "$ENGINE" = postgres ]; then
    read -r rows1 bytes1 < <(pg_stored); blobs1=$(s3_bytes)
  else
    read -r rows1 bytes1 < <(sqlite_stored "$OUT/sqlite-data"); blobs1=$(dir_bytes "$OUT/sqlite-data/blobs")
  fi
  rm -f "$after"
  local status=0
  wait "$lg" || status=$?
  read -r bin bout < <(nginx_bytes "$t0" "$t1")
  python3 - "$report" "$name" "$ENGINE" "$SERVERS" "$cpu" "$pgcpu" "$bin" "$bout" \
    "$((rows1 - rows0))" "$((bytes1 - bytes0))" "$((blobs1 - blobs0))" "$kill" >>"$OUT/rows.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, engine, servers = sys.argv[2], sys.argv[3], int(sys.argv[4])
cpu, pgcpu, bin_, bout, rows, dbb, blobs, killed = map(int, sys.argv[5:13])
d = r["devices"]
print(f"| {engine}, {servers} process{'es' if servers > 1 else ''}{', one killed mid-burst' if killed else ''} "
      f"| {d} | {r['burst_seconds']:.1f} s | {r['errors']} / {r['devices_differing_from_server']} "
      f"| {r['failed_tries_retried']} | {cpu / d:.1f} | {pgcpu / d:.1f} | {bin_ / d:,.0f} | {bout / d:,.0f} "
      f"| {rows / d:.1f} | {dbb / d:,.0f} | {blobs / d:,.0f} | {r['latency_ms_p50']} / {r['latency_ms_p99']} ms |")
PY
  log "$name: loadgen exit status $status (report $report)"
  [ "$status" = 0 ] || { tail -20 "$OUT/$name-loadgen.log" >&2; FAILED=1; }
}

FAILED=0
echo "| run | devices | burst | errors / devices differing from the server | failed tries retried | server CPU-ms per device | PostgreSQL CPU-ms per device (this database's backends) | bytes in per device | bytes out per device | rows stored per device-day | database bytes per device-day | blob bytes per device-day | latency p50 / p99 |" >"$OUT/rows.md"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|" >>"$OUT/rows.md"

# --- 1. one process on SQLite (the embedded default), behind the same nginx ----------
ENGINE=sqlite SERVERS=1
SPORT[1]="$(free_port)"
start_server 1 --data "$OUT/sqlite-data"
start_nginx 1
run sqlite 0 --server-data "$OUT/sqlite-data"
kill "${SPID[1]}" 2>/dev/null || true
stop_nginx

# --- 2. PROCESSES processes on PostgreSQL + S3, one killed mid-burst ------------------
ENGINE=postgres SERVERS="$PROCESSES"
for i in $(seq 1 "$PROCESSES"); do
  SPORT[$i]="$(free_port)"
  start_server "$i" --data "$OUT/pg-data-$i" --database-url "$DB_URL" \
    --blobs s3://tonghu --s3-endpoint "http://127.0.0.1:$MOTO_PORT"
done
start_nginx "$PROCESSES"
run postgres 1 --database-url "$DB_URL"

echo
cat "$OUT/rows.md"
echo
echo "Requests per process (nginx upstream, whole run):"
awk '{ print $5 }' "$OUT/nginx/access.log" | sort | uniq -c | sort -rn | head -10
[ "$FAILED" = 0 ] || { log "a run had errors or devices differing from the server"; exit 1; }
