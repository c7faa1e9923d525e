#!/usr/bin/env bash
# Issue 16's storage figures, before and after, in ONE run on a QUIET machine (nothing
# else building or testing: on 2 shared cores anything else is noise).
#
#   scripts/bench-store.sh [BASE_REF]        # default BASE_REF: 4751fcb (main before issue 16)
#   SKIP_BURST=1 scripts/bench-store.sh      # bench-ingest only (about 10 minutes)
#
# 1. Builds release binaries of BASE_REF (a detached worktree under $OUT) and of this
#    work tree, one after the other into this work tree's own target dir, and copies
#    each set to $OUT/base and $OUT/head (loadgen finds its sync-server beside it).
# 2. Starts the private PostgreSQL (scripts/postgres.sh; stopped again at the end
#    only if this script started it).
# 3. bench-ingest, interleaved base, head, base, head: SQLite 1,000,000 changes and
#    PostgreSQL 200,000 changes, 8 devices, batches of 1,000, a fresh store each run.
# 4. Unless SKIP_BURST=1: the morning burst (loadgen, 6,735 devices) of head on SQLite
#    then on PostgreSQL, one after the other (the 1.3x goal compares these two).
#
# Every report goes to $OUT (default /tmp/bench-store); the summary lines are printed
# at the end, ready for BENCHMARKS.md.
set -euo pipefail

BASE="${1:-4751fcb}"
OUT="${OUT:-/tmp/bench-store}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
log() { echo "bench-store: $*" >&2; }

mkdir -p "$OUT/base" "$OUT/head"

build_into() { # <source dir> <dest>
  (cd "$1" && cargo build --release -p sync-server -p tonghu-tests --bins \
    --target-dir "$ROOT/target" >&2)
  cp "$ROOT/target/release/sync-server" "$ROOT/target/release/loadgen" "$2/"
}

if [ ! -x "$OUT/base/sync-server" ]; then
  log "building $BASE"
  rm -rf "$OUT/src-base"
  git -C "$ROOT" worktree add --detach "$OUT/src-base" "$BASE" >&2
  build_into "$OUT/src-base" "$OUT/base"
  git -C "$ROOT" worktree remove --force "$OUT/src-base"
fi
log "building the work tree"
build_into "$ROOT" "$OUT/head"

STARTED_PG=0
if ! pg_isready -h 127.0.0.1 -p 55432 -q 2>/dev/null; then STARTED_PG=1; fi
eval "$("$ROOT/scripts/postgres.sh")"
URL="$TONGHU_TEST_DATABASE_URL"
BASE_URL="${URL%/*}"
cleanup() { if [ "$STARTED_PG" = 1 ]; then "$ROOT/scripts/postgres.sh" stop >&2 || true; fi; }
trap cleanup EXIT

fresh_db() { # prints the URL of a new empty database
  local name="bench_$(date +%s%N)"
  psql "$URL" -qc "CREATE DATABASE $name" >&2
  echo "$BASE_URL/$name"
}

SUMMARY="$OUT/summary.md"
: >"$SUMMARY"
for round in 1 2; do
  for which in base head; do
    bin="$OUT/$which/sync-server"
    log "bench-ingest SQLite, $which, round $round"
    rm -rf "$OUT/data-sqlite"
    echo "<!-- $which, round $round, SQLite -->" >>"$SUMMARY"
    "$bin" bench-ingest --data "$OUT/data-sqlite" --changes 1000000 --batch 1000 --devices 8 \
      | tail -1 | sed "s/^| SQLite/| SQLite ($which)/" >>"$SUMMARY"
    log "bench-ingest PostgreSQL, $which, round $round"
    echo "<!-- $which, round $round, PostgreSQL -->" >>"$SUMMARY"
    "$bin" bench-ingest --database-url "$(fresh_db)" --changes 200000 --batch 1000 --devices 8 \
      | tail -1 | sed "s/^| PostgreSQL/| PostgreSQL ($which)/" >>"$SUMMARY"
  done
done

if [ "${SKIP_BURST:-0}" != 1 ]; then
  log "burst, SQLite"
  "$OUT/head/loadgen" --devices 6735 --quiet --report "$OUT/burst-sqlite.json" >&2
  log "burst, PostgreSQL"
  "$OUT/head/loadgen" --devices 6735 --quiet --database-url "$(fresh_db)" \
    --report "$OUT/burst-postgres.json" >&2
  echo "burst reports: $OUT/burst-sqlite.json, $OUT/burst-postgres.json" >>"$SUMMARY"
fi

cat "$SUMMARY"
