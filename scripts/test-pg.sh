#!/usr/bin/env bash
# `npm run test:pg`: the whole jest suite on PostgreSQL. Uses TEST_DATABASE_URL when set (an admin URL:
# each test creates and drops a database of its own there), else starts the throwaway cluster of
# scripts/pg-test-cluster.sh on 127.0.0.1:54329. Without a reachable PostgreSQL it says so and exits 0,
# so machines without PostgreSQL still pass. TEST_PG_REQUIRED=1 (CI) turns the skip into a failure.
# Arguments go to jest (e.g. `npm run test:pg -- test/scale`).
set -euo pipefail
cd "$(dirname "$0")/.."

err="$(mktemp)"
trap 'rm -f "$err"' EXIT

skip() {
  echo "test:pg SKIPPED: $1"
  echo "  Install PostgreSQL (apt-get install postgresql) or set TEST_DATABASE_URL=postgres://user@host:port/postgres."
  if [ "${TEST_PG_REQUIRED:-}" = 1 ]; then
    echo "test:pg: TEST_PG_REQUIRED=1, failing instead of skipping" >&2
    exit 1
  fi
  exit 0
}

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! TEST_DATABASE_URL="$(scripts/pg-test-cluster.sh start 2>"$err")"; then
    skip "no PostgreSQL available ($(tail -n 1 "$err"))"
  fi
fi
export TEST_DATABASE_URL
# Only what follows the "@" is ever printed: the URL may carry a password.
where="${TEST_DATABASE_URL##*@}"

if ! node -e '
  const { Client } = require("pg");
  const c = new Client({ connectionString: process.env.TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  c.connect().then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });
' 2>"$err"; then
  skip "PostgreSQL at $where did not answer ($(head -n 1 "$err"))"
fi

echo "== test:pg: the whole suite on PostgreSQL at $where"
npm run build --silent
npx jest "$@"
