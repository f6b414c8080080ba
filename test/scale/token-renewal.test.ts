import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createApiKey } from '../../src/api/api-keys';
import { createDb } from '../../src/db/create-db';
import type { Database } from '../../src/db/schema';
import { DAY } from '../../src/shared/clock';
import { ODD_ACCOUNT } from '../support/harness';
import { createTestDatabase, describeOnPostgres, type TestDatabase } from '../support/postgres';
import { rowMinter } from '../support/minted-rows';
import {
  type RunningProcess,
  type SandboxProcess,
  sharedSecrets,
  startSandboxProcess,
  startWebProcess,
} from '../support/processes';

/**
 * The token API's once-only renewal across instances: two web processes on one PostgreSQL database and
 * one standalone sandbox (which counts its refresh calls). Twenty callers ask at the same moment, half on
 * each instance, for a token due for renewal: Instagram is asked once, and everyone gets the new token.
 */
describeOnPostgres('token reads on several instances', () => {
  const PUBLIC_URL = 'http://igconnect.lb.test';
  const MIN_TTL = 5_097_600;
  let database: TestDatabase;
  let sandbox: SandboxProcess;
  let db: Kysely<Database>;
  let secrets: Record<string, string>;
  let instances: RunningProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    sandbox = await startSandboxProcess([`${PUBLIC_URL}/auth/instagram/callback`]);
    secrets = sharedSecrets();
    const env = {
      ...secrets,
      ...sandbox.instagramEnv,
      PUBLIC_URL,
      DATABASE_URL: database.url,
      DATABASE_POOL_MAX: '4',
      // Only the callers may renew: no keeper sweeps, no validations.
      KEEPER_IN_WEB: 'false',
      VALIDATE_INTERVAL_HOURS: '0',
      // Every line the processes write is checked for the token below.
      LOG_LEVEL: 'debug',
    };
    instances = await Promise.all([startWebProcess(env), startWebProcess(env)]);
    db = createDb({ kind: 'postgres', url: database.url, poolMax: 2, timeoutMs: 10_000 });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(instances.map((p) => p.stop()));
    await db?.destroy();
    await sandbox?.stop();
    await database?.drop();
  });

  /** A connection whose sandbox-minted token is two days old: renewable, and due for any wish above 58 days. */
  async function seedDue(): Promise<{ id: string; token: string }> {
    const issuedAt = Date.now() - 2 * DAY;
    const userId = randomUUID();
    const { row, token } = await rowMinter(
      sandbox,
      secrets.TOKEN_ENCRYPTION_KEYS,
    )({
      userId,
      account: ODD_ACCOUNT.igUserId,
      n: 0,
      username: 'sunny.bakery',
      subjectId: ODD_ACCOUNT.appScopedId,
      accountId: ODD_ACCOUNT.igUserId,
      mintedAt: issuedAt,
      issuedAt,
      expiresAt: issuedAt + 5183944 * 1000,
      nextActionAt: issuedAt + 50 * DAY,
    });
    await db.insertInto('users').values({ id: userId, created_at: issuedAt, end_user_id: null }).execute();
    await db
      .insertInto('connections')
      .values({ ...row, end_user_id: null })
      .execute();
    return { id: row.id, token };
  }

  it('when 20 callers on two instances read a token due for renewal at once, then Instagram is asked once', async () => {
    const { id, token: old } = await seedDue();
    const { key } = await createApiKey(db, 'renewal test', Date.now());
    await fetch(`${sandbox.url}/_control/calls/reset`, { method: 'POST' });

    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const instance = instances[i % 2] as RunningProcess;
        const response = await fetch(
          `${instance.url}/api/v1/connections/${id}/access-token?min_ttl_seconds=${MIN_TTL}`,
          {
            headers: { authorization: `Bearer ${key}` },
          },
        );
        return { status: response.status, body: (await response.json()) as { access_token: string } };
      }),
    );

    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const tokens = new Set(answers.map((a) => a.body.access_token));
    expect(tokens.size).toBe(1);
    expect(tokens.has(old)).toBe(false);
    expect((await sandbox.calls()).refresh).toBe(1);
    const reads = await db.selectFrom('token_reads').select('renewed').where('connection_id', '=', id).execute();
    expect(reads).toHaveLength(20);
    expect(reads.filter((r) => Number(r.renewed) === 1)).toHaveLength(1);
    const stored = await db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(stored.lease_owner).toBeNull();
    expect(stored.last_refresh_outcome).toBe('ok');
    for (const instance of instances) {
      expect(instance.output()).not.toContain(old);
      expect(instance.output()).not.toContain([...tokens][0]);
    }
  }, 60_000);
});
