#!/usr/bin/env bash
# `npm run test:pg`: the whole jest suite on PostgreSQL. Uses TEST_DATABASE_URL when set (an admin URL:
# each test creates and drops a database of its own there), else starts the throwaway cluster of
# scripts/pg-test-cluster.sh on 127.0.0.1:54329. Without a reachable PostgreSQL it says so and exits 0,
# so machines without PostgreSQL still pass `npm run check`; CI installs PostgreSQL and never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

err="$(mktemp)"
trap 'rm -f "$err"' EXIT
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! TEST_DATABASE_URL="$(scripts/pg-test-cluster.sh start 2>"$err")"; then
    echo "test:pg SKIPPED: no PostgreSQL available ($(tail -n 1 "$err"))."
    echo "  Install it (apt-get install postgresql) or set TEST_DATABASE_URL=postgres://user@host:port/postgres."
    exit 0
  fi
fi
export TEST_DATABASE_URL

if ! node -e '
  const { Client } = require("pg");
  const c = new Client({ connectionString: process.env.TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  c.connect().then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });
' 2>/tmp/igconnect-pg-ping.err; then
  echo "test:pg SKIPPED: PostgreSQL at ${TEST_DATABASE_URL%%@*}@… did not answer ($(cat /tmp/igconnect-pg-ping.err))."
  exit 0
fi

echo "== test:pg: the whole suite on PostgreSQL (${TEST_DATABASE_URL##*@})"
npm run build --silent
npx jest "$@"
