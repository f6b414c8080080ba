#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for tests and development: `start` creates it (initdb, trust
# auth, no fsync) if needed and starts it, `stop` stops it, `destroy` stops it and deletes its files,
# `status` exits 0 when it answers, `url` prints its DATABASE_URL. Used by .ci/run, `npm run test:pg`
# and the tests that restart a cluster of their own.
#
#   PG_TEST_PORT  port on 127.0.0.1 (default 54329)
#   PG_TEST_DIR   data and socket directory (default /tmp/igconnect-pg-$PG_TEST_PORT)
#   PG_BIN        PostgreSQL's bin directory (default: the newest under /usr/lib/postgresql)
set -euo pipefail

PORT="${PG_TEST_PORT:-54329}"
DIR="${PG_TEST_DIR:-/tmp/igconnect-pg-$PORT}"
if [ -z "${PG_BIN:-}" ]; then
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
fi

# initdb and postgres refuse to run as root: as root, run them as the postgres OS user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

need_binaries() {
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
    echo "pg-test-cluster: PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN)" >&2
    exit 3
  fi
}

url() { echo "postgres://postgres@127.0.0.1:$PORT/postgres"; }

running() { [ -n "$PG_BIN" ] && [ -d "$DIR/data" ] && as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; }

case "${1:-}" in
  start)
    need_binaries
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
      mkdir -p "$DIR"
      if [ "$(id -u)" = 0 ]; then chown postgres: "$DIR"; fi
      as_owner "$PG_BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    fi
    if ! running; then
      # Durability is irrelevant for a throwaway cluster; speed is not.
      as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 start \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        >/dev/null || { tail -n 20 "$DIR/server.log" >&2; exit 1; }
    fi
    url
    ;;
  stop)
    if running; then as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null; fi
    ;;
  destroy)
    if running; then as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null; fi
    rm -rf "$DIR"
    ;;
  status)
    running
    ;;
  url)
    url
    ;;
  *)
    echo "usage: $0 start|stop|destroy|status|url" >&2
    exit 2
    ;;
esac
