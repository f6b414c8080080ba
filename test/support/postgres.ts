import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

/**
 * PostgreSQL for tests. `npm run test:pg` sets TEST_DATABASE_URL (an admin URL of a throwaway cluster);
 * each test app then gets a database of its own, created here and dropped on close. Without the variable
 * the suite runs on SQLite and the PostgreSQL-only tests are skipped.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

/** `describe` when PostgreSQL tests run (`npm run test:pg`), else `describe.skip`. */
export const describeOnPostgres: jest.Describe = TEST_DATABASE_URL ? describe : describe.skip;

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin<T>(adminUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database on the cluster behind `adminUrl` (default TEST_DATABASE_URL). */
export async function createTestDatabase(adminUrl = TEST_DATABASE_URL): Promise<TestDatabase> {
  if (!adminUrl) throw new Error('createTestDatabase needs TEST_DATABASE_URL (npm run test:pg)');
  const name = `igconnect_test_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, (client) => client.query(`create database ${name}`));
  return {
    name,
    url: withDatabase(adminUrl, name),
    // FORCE ends the connections a test may have left behind (a killed process, a destroyed pool).
    drop: () =>
      admin(adminUrl, (client) => client.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

const CLUSTER_SCRIPT = join(__dirname, '../../scripts/pg-test-cluster.sh');
const run = promisify(execFile);

/**
 * A PostgreSQL cluster of a test's own (scripts/pg-test-cluster.sh on another port and directory), for
 * tests that stop and start the server: the shared cluster of `npm run test:pg` must stay up for the others.
 */
export class DedicatedCluster {
  readonly url: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly port: number) {
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    this.env = { ...process.env, PG_TEST_PORT: String(port), PG_TEST_DIR: `/tmp/igconnect-pg-test-${port}` };
  }

  async start(): Promise<void> {
    await run(CLUSTER_SCRIPT, ['start'], { env: this.env, timeout: 60_000 });
  }

  async stop(): Promise<void> {
    await run(CLUSTER_SCRIPT, ['stop'], { env: this.env, timeout: 60_000 });
  }

  async destroy(): Promise<void> {
    await run(CLUSTER_SCRIPT, ['destroy'], { env: this.env, timeout: 60_000 });
  }
}
