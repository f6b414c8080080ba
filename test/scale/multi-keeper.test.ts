import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createDb } from '../../src/db/create-db';
import type { Database } from '../../src/db/schema';
import { DAY } from '../../src/shared/clock';
import { ODD_ACCOUNT } from '../support/harness';
import { createTestDatabase, describeOnPostgres, type TestDatabase } from '../support/postgres';
import { rowMinter } from '../support/minted-rows';
import {
  Browser,
  connectAcross,
  type RunningProcess,
  type SandboxProcess,
  sharedSecrets,
  startSandboxProcess,
  startWebProcess,
  startWorkerProcess,
  waitFor,
} from '../support/processes';

/**
 * Two web processes and two keeper processes (`npm run worker`) on one PostgreSQL database and one
 * standalone sandbox: every due token is refreshed exactly once, and a keeper killed mid-sweep leaves
 * nothing behind once its leases lapse.
 */
describeOnPostgres('several keepers on one PostgreSQL', () => {
  const PUBLIC_URL = 'http://igconnect.lb.test';
  const LEASE_SECONDS = 10;
  let database: TestDatabase;
  let sandbox: SandboxProcess;
  let db: Kysely<Database>;
  let secrets: Record<string, string>;
  let env: Record<string, string>;
  const processes: RunningProcess[] = [];

  beforeEach(async () => {
    database = await createTestDatabase();
    sandbox = await startSandboxProcess([`${PUBLIC_URL}/auth/instagram/callback`]);
    secrets = sharedSecrets();
    env = {
      ...secrets,
      ...sandbox.instagramEnv,
      PUBLIC_URL,
      DATABASE_URL: database.url,
      DATABASE_POOL_MAX: '4',
      KEEPER_IN_WEB: 'false',
      KEEPER_INTERVAL_SECONDS: '1',
      KEEPER_LEASE_SECONDS: String(LEASE_SECONDS),
      KEEPER_CONCURRENCY: '8',
      KEEPER_BATCH_SIZE: '100',
      VALIDATE_INTERVAL_HOURS: '0',
    };
    // The web processes create the schema; the test then seeds rows through its own handle.
    processes.push(...(await Promise.all([startWebProcess(env), startWebProcess(env)])));
    db = createDb({ kind: 'postgres', url: database.url, poolMax: 4, timeoutMs: 10_000 });
  }, 60_000);

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.kill()));
    await db?.destroy();
    await sandbox?.stop();
    await database?.drop();
  });

  /** `count` connections whose 60-day tokens (minted by the sandbox) were issued 51 days ago: all due. */
  async function seedDue(count: number): Promise<void> {
    const mint = rowMinter(sandbox, secrets.TOKEN_ENCRYPTION_KEYS);
    const issuedAt = Date.now() - 51 * DAY;
    const userId = randomUUID();
    await db.insertInto('users').values({ id: userId, created_at: issuedAt }).execute();
    for (let start = 0; start < count; start += 250) {
      const minted = await Promise.all(
        Array.from({ length: Math.min(250, count - start) }, (_, i) =>
          mint({
            userId,
            account: ODD_ACCOUNT.igUserId,
            n: start + i,
            username: `keeper.load.${start + i}`,
            mintedAt: issuedAt,
            issuedAt,
            expiresAt: issuedAt + 5183944 * 1000,
            nextActionAt: issuedAt + 50 * DAY,
          }),
        ),
      );
      await db
        .insertInto('connections')
        .values(minted.map((m) => m.row))
        .execute();
    }
  }

  const refreshedCount = async () =>
    Number(
      (
        await db
          .selectFrom('connections')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('last_refresh_outcome', '=', 'ok')
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('when two keepers sweep thousands of due connections, then every token is refreshed exactly once', async () => {
    const N = 2000;
    await seedDue(N);
    await fetch(`${sandbox.url}/_control/calls/reset`, { method: 'POST' });
    const workers = await Promise.all([startWorkerProcess(env), startWorkerProcess(env)]);
    processes.push(...workers);

    // Meanwhile the web instances keep serving: a cross-instance flow completes during the sweep.
    const callback = await connectAcross(new Browser(), {
      startOrigin: processes[0]?.url ?? '',
      callbackOrigin: processes[1]?.url ?? '',
      account: ODD_ACCOUNT.igUserId,
    });
    expect(callback.status).toBe(303);

    await waitFor(
      async () => ((await refreshedCount()) === N ? true : undefined),
      'every token refreshed',
      90_000,
      250,
    );
    // Give any (wrong) second refresh a chance to happen before counting.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await sandbox.calls()).refresh).toBe(N);
    expect(await refreshedCount()).toBe(N);
    // Both keepers took a share of the work.
    for (const worker of workers) expect(worker.output()).toMatch(/"msg":"keeper sweep done"/);
    const leased = await db.selectFrom('connections').select('id').where('lease_owner', 'is not', null).execute();
    expect(leased).toHaveLength(0);
  }, 120_000);

  it('when one keeper is killed mid-sweep, then the other finishes its work after the leases lapse', async () => {
    const N = 1000;
    await seedDue(N);
    await fetch(`${sandbox.url}/_control/calls/reset`, { method: 'POST' });
    const [victim, survivor] = await Promise.all([startWorkerProcess(env), startWorkerProcess(env)]);
    processes.push(victim as RunningProcess, survivor as RunningProcess);
    // Lease owners are "<host>:<pid>:<random>": the rows the victim held when it died.
    const victimOwner = `%:${victim?.child.pid}:%`;
    const heldBy = (owner: string) =>
      db.selectFrom('connections').select('id').where('lease_owner', 'like', owner).execute();
    // Under way, and the victim holding work of its own (on a busy machine it may start after the other).
    await waitFor(
      async () => ((await refreshedCount()) >= 150 && (await heldBy(victimOwner)).length > 0 ? true : undefined),
      'the sweep to be under way with work held by the victim',
      60_000,
      20,
    );
    await victim?.kill();
    const heldByDead = await heldBy(victimOwner);
    expect(heldByDead.length).toBeGreaterThan(0);

    await waitFor(
      async () => ((await refreshedCount()) === N ? true : undefined),
      'every token refreshed',
      90_000,
      250,
    );
    const calls = (await sandbox.calls()).refresh ?? 0;
    // Each connection was refreshed; at most the dead keeper's in-flight calls (whose answers it never
    // stored) were repeated.
    expect(calls).toBeGreaterThanOrEqual(N);
    expect(calls).toBeLessThanOrEqual(N + 8);
    const orphans = await db
      .selectFrom('connections')
      .select('id')
      .where(
        'id',
        'in',
        heldByDead.map((r) => r.id),
      )
      .where((eb) => eb.or([eb('last_refresh_outcome', 'is', null), eb('last_refresh_outcome', '!=', 'ok')]))
      .execute();
    expect(orphans).toHaveLength(0);
    const leased = await db.selectFrom('connections').select('id').where('lease_owner', 'is not', null).execute();
    expect(leased).toHaveLength(0);
  }, 150_000);
});
