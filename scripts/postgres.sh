#!/usr/bin/env bash
# Starts a private PostgreSQL cluster for the sync-server tests and prints
#   export TONGHU_TEST_DATABASE_URL=postgres://…
# on stdout (everything else goes to stderr), so a test command can
#   eval "$(scripts/postgres.sh)"
# Installs PostgreSQL from Debian's packages if missing. Safe to run twice: a cluster
# it already started is reused. Works as root (the server runs as the postgres user)
# or as an ordinary user. Stop it with: scripts/postgres.sh stop
set -euo pipefail

DIR="${TONGHU_PG_DIR:-/var/tmp/tonghu-pg}"
log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

BIN="$(find_bin || true)"
if [ -z "$BIN" ]; then
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update >&2
  $SUDO apt-get install -y postgresql >&2
  BIN="$(find_bin)"
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = "stop" ]; then
  [ -f "$DIR/data/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2 || true
  exit 0
fi

mkdir -p "$DIR"
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" --shell /bin/bash postgres
  chown postgres "$DIR"
fi

if [ -f "$DIR/port" ] && as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  PORT="$(cat "$DIR/port")"
  log "reusing the cluster on port $PORT"
else
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    log "initialising a cluster in $DIR/data"
    as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2 \
      || as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >&2
  fi
  PORT=55432
  while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
  echo "$PORT" > "$DIR/port"
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c max_connections=600 -c shared_buffers=256MB" >&2
  log "started on 127.0.0.1:$PORT"
fi

as_owner "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q >&2 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tonghu') THEN
    CREATE ROLE tonghu LOGIN SUPERUSER PASSWORD 'tonghu';
  END IF;
END $$;
SQL

echo "export TONGHU_TEST_DATABASE_URL=postgres://tonghu:tonghu@127.0.0.1:$PORT/postgres"
