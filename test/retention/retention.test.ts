import { recordTokenRead } from '../../src/api/token-reads';
import { loadConfig } from '../../src/config/config';
import { createContainer } from '../../src/main/container';
import { lastRun } from '../../src/retention/retention';
import { pruneRules } from '../../src/retention/rules';
import { PendingChoices } from '../../src/connections/pending-choices';
import { DAY, HOUR, MINUTE } from '../../src/shared/clock';
import { apiKey, bearer } from '../api/api-support';
import { outboxRows, startEventsApp, type EventsTestApp } from '../events/events-support';
import { runCli } from '../support/cli';
import { seedConnection } from '../support/factories';
import { pathOf, startTestApp, type TestApp } from '../support/harness';

/**
 * The retention job on the real database (SQLite here, PostgreSQL under `npm run test:pg`): what each
 * table keeps, batches that stop at their limit, one run per interval across instances, and `prune`.
 */

const countOf = async (app: TestApp, table: 'token_reads' | 'connect_sessions' | 'events') =>
  Number(
    (
      await app.container.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('retention: events', () => {
  let events: EventsTestApp;
  afterEach(async () => {
    await events.close();
  });

  /** One more change of the connection (connected again, a new username): one more event. */
  const update = (app: TestApp, row: { account_id: string; user_id: string }) =>
    seedConnection(app, { igUserId: row.account_id, userId: row.user_id });

  it('when events are old, then only delivered or given-up ones go: never a pending one, never the latest of a live connection', async () => {
    events = await startEventsApp({ env: { EVENTS_RETENTION_DAYS: '1' } });
    const { app, relay, receiver } = events;
    const a = await seedConnection(app);
    await update(app, a);
    await update(app, a);
    const gone = await seedConnection(app);
    await relay.deliverDue();
    await app.container.connections.disconnect(gone.user_id, gone.id);
    await relay.deliverDue();
    receiver.mode = 'fail';
    const pending = await seedConnection(app);
    await relay.deliverDue();
    // A second change waits behind the first, which keeps being refused: neither is the connection's only event.
    await update(app, pending);
    await relay.deliverDue();
    const before = await outboxRows(app);
    expect(before.filter((e) => e.delivered_at !== null)).toHaveLength(5);
    expect(before.filter((e) => e.connection_id === pending.id && e.next_attempt_at !== null)).toHaveLength(2);

    app.clock.advance(2 * DAY);
    const summary = await app.container.retention.run();
    expect(summary.deleted.events).toBe(4);
    const kept = await outboxRows(app);
    expect(kept.map((e) => [e.connection_id, Number(e.seq)]).sort()).toEqual(
      [
        [a.id, 3],
        [pending.id, 1],
        [pending.id, 2],
      ].sort(),
    );
    for (const event of kept.filter((e) => e.connection_id === pending.id)) {
      expect(event.delivered_at).toBeNull();
      expect(event.failed_at).toBeNull();
    }

    // The next event of the connection continues its numbering.
    await update(app, a);
    const next = (await outboxRows(app)).filter((e) => e.connection_id === a.id).map((e) => Number(e.seq));
    expect(next).toEqual([3, 4]);
  });

  it('when an event was given up, then it goes once retention has passed and a later event of its connection exists', async () => {
    events = await startEventsApp({ env: { EVENTS_RETENTION_DAYS: '1' } });
    const { app, relay, receiver } = events;
    receiver.mode = 'fail';
    const b = await seedConnection(app);
    for (let round = 0; round < 100; round += 1) {
      if ((await relay.deliverDue()).givenUp === 1) break;
      app.clock.advance(HOUR);
    }
    const [failed] = await outboxRows(app);
    expect(failed?.failed_at).not.toBeNull();
    app.clock.advance(2 * DAY);
    // The latest of its connection: kept.
    expect((await app.container.retention.run()).deleted.events).toBe(0);
    receiver.mode = 'up';
    await update(app, b);
    await relay.deliverDue();
    expect((await app.container.retention.run()).deleted.events).toBe(1);
    expect((await outboxRows(app)).map((e) => Number(e.seq))).toEqual([2]);
  });

  it('when a redelivery of an old event is in flight, then the run leaves that event alone', async () => {
    events = await startEventsApp({ env: { EVENTS_RETENTION_DAYS: '1' } });
    const { app, relay, receiver } = events;
    const a = await seedConnection(app);
    await update(app, a);
    await relay.deliverDue();
    const [first] = await outboxRows(app);
    app.clock.advance(2 * DAY);
    receiver.mode = 'hang';
    const seen = receiver.deliveries.length;
    const redelivery = relay.redeliver(first?.id ?? '');
    await receiver.waitFor(() => receiver.deliveries.length > seen, 'the redelivery');
    expect((await app.container.retention.run()).deleted.events).toBe(0);
    receiver.mode = 'up';
    receiver.release();
    await redelivery;
    // Delivered again just now: it is kept for another retention period from here.
    expect((await app.container.retention.run()).deleted.events).toBe(0);
    app.clock.advance(2 * DAY);
    expect((await app.container.retention.run()).deleted.events).toBe(1);
  });
});

describe('retention', () => {
  let app: TestApp;
  afterEach(async () => {
    await app.close();
  });

  it('when token reads are older than AUDIT_RETENTION_DAYS, then they go and recent ones stay', async () => {
    app = await startTestApp({ env: { AUDIT_RETENTION_DAYS: '90' } });
    const key = await apiKey(app);
    const now = app.clock.now();
    for (const at of [now - 91 * DAY, now - 90 * DAY - 1, now - 89 * DAY, now - HOUR]) {
      await recordTokenRead(app.container.db, { apiKeyId: key.id, connectionId: 'c1', at, renewed: false });
    }
    const summary = await app.container.retention.run();
    expect(summary.deleted.token_reads).toBe(2);
    const left = await app.container.db.selectFrom('token_reads').select('read_at').orderBy('read_at').execute();
    expect(left.map((r) => Number(r.read_at))).toEqual([now - 89 * DAY, now - HOUR]);
  });

  it('when sessions, sign-in states, pending choices and rate-limit windows have expired, then they go and live ones stay', async () => {
    app = await startTestApp();
    const { db } = app.container;
    const now = app.clock.now();
    const choices = new PendingChoices(db, app.container.vault, app.clock);
    const choice = { provider: 'facebook', accounts: [], skipped: [], requestedScopes: [], context: {} };
    app.clock.set(now - 20 * MINUTE);
    await choices.hold('s-old', choice);
    app.clock.set(now);
    await choices.hold('s-new', choice);
    await db
      .insertInto('sessions')
      .values([
        { sid: 'gone', sess: '{}', expires_at: now - 1 },
        { sid: 'live', sess: '{}', expires_at: now + HOUR },
      ])
      .execute();
    const transaction = (hash: string, expiresAt: number) => ({
      state_hash: hash,
      session_id: 's',
      provider: 'instagram',
      created_at: expiresAt - 10 * MINUTE,
      expires_at: expiresAt,
      consumed_at: null,
      connect_session_id: null,
    });
    await db
      .insertInto('oauth_transactions')
      .values([transaction('long-gone', now - HOUR), transaction('just-expired', now - MINUTE)])
      .execute();
    await db
      .insertInto('rate_limits')
      .values([
        { bucket: 'old', count: 3, expires_at: now - 1 },
        { bucket: 'current', count: 3, expires_at: now + MINUTE },
      ])
      .execute();

    const summary = await app.container.retention.run();
    expect(summary.deleted).toMatchObject({ sessions: 1, oauth_transactions: 1, pending_choices: 1, rate_limits: 1 });
    expect((await db.selectFrom('sessions').select('sid').execute()).map((r) => r.sid)).toEqual(['live']);
    expect((await db.selectFrom('oauth_transactions').select('state_hash').execute()).map((r) => r.state_hash)).toEqual(
      ['just-expired'],
    );
    expect((await db.selectFrom('pending_choices').select('session_id').execute()).map((r) => r.session_id)).toEqual([
      's-new',
    ]);
    expect((await db.selectFrom('rate_limits').select('bucket').execute()).map((r) => r.bucket)).toEqual(['current']);
  });

  it('when a retention is 0, then those records are kept forever', async () => {
    app = await startTestApp({ env: { AUDIT_RETENTION_DAYS: '0' } });
    const key = await apiKey(app);
    await recordTokenRead(app.container.db, {
      apiKeyId: key.id,
      connectionId: 'c1',
      at: app.clock.now() - 3000 * DAY,
      renewed: false,
    });
    const summary = await app.container.retention.run();
    expect(summary.deleted.token_reads).toBeUndefined();
    expect(await countOf(app, 'token_reads')).toBe(1);
  });

  it('when a batch finds more rows than its limit, then it deletes exactly the limit and says more remain', async () => {
    app = await startTestApp();
    const key = await apiKey(app);
    for (let i = 0; i < 7; i += 1) {
      await recordTokenRead(app.container.db, {
        apiKeyId: key.id,
        connectionId: 'c1',
        at: app.clock.now() - 100 * DAY - i,
        renewed: false,
      });
    }
    const rule = pruneRules(app.container.db, app.container.config.retention, app.clock.now()).find(
      (r) => r.table === 'token_reads',
    );
    expect(await rule?.batch(3)).toEqual({ deleted: 3, more: true });
    expect(await countOf(app, 'token_reads')).toBe(4);
    const summary = await app.container.retention.run({ batchSize: 3 });
    expect(summary.deleted.token_reads).toBe(4);
    expect(await countOf(app, 'token_reads')).toBe(0);
  });

  it('when a connect link expired, then it answers "expired" for a day and is deleted after that', async () => {
    app = await startTestApp();
    const key = await apiKey(app);
    const created = await app
      .agent()
      .post('/api/v1/connect-sessions')
      .set(bearer(key.key))
      .send({ end_user_id: 'user-1' });
    expect(created.status).toBe(201);
    const path = pathOf(created.body.url as string);
    app.clock.advance(app.container.config.api.connectSessionTtlMs + 23 * HOUR);
    await app.container.retention.run();
    expect((await app.agent().get(path)).status).toBe(410);
    app.clock.advance(2 * HOUR);
    expect((await app.container.retention.run()).deleted.connect_sessions).toBe(1);
    expect((await app.agent().get(path)).status).toBe(404);
  });

  it('when several keeper processes share a database, then the job runs once per interval and keeps its report', async () => {
    app = await startTestApp();
    const otherLogs: string[] = [];
    const other = await createContainer(loadConfig(app.env), {
      clock: app.clock,
      logDestination: { write: (line: string) => otherLogs.push(line) },
    });
    const ran = (logs: string[]) => logs.filter((line) => line.includes('retention: pruned')).length;
    const runs = () => [ran(app.logs), ran(otherLogs)];
    try {
      await app.container.retention.runIfDue();
      await other.retention.runIfDue();
      await app.container.retention.runIfDue();
      expect(runs()).toEqual([1, 0]);
      expect(await lastRun(app.container.db)).toMatchObject({ at: app.clock.now(), interrupted: false });
      app.clock.advance(DAY + 1);
      await other.retention.runIfDue();
      await app.container.retention.runIfDue();
      expect(runs()).toEqual([1, 1]);
      expect((await lastRun(app.container.db))?.at).toBe(app.clock.now());
    } finally {
      await other.close();
    }
  });

  it('when a keeper starts, then it runs the job beside its sweep', async () => {
    app = await startTestApp();
    const key = await apiKey(app);
    await recordTokenRead(app.container.db, {
      apiKeyId: key.id,
      connectionId: 'c1',
      at: app.clock.now() - 100 * DAY,
      renewed: false,
    });
    const keeper = app.container.createKeeper('retention-test');
    keeper.start({ keepAlive: false });
    try {
      for (let i = 0; i < 200 && !app.logs.some((line) => line.includes('retention: pruned')); i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } finally {
      await keeper.stop();
    }
    expect(await countOf(app, 'token_reads')).toBe(0);
  });

  it('when prune runs, then it prints what it deleted per table, and a bad flag changes nothing', async () => {
    app = await startTestApp();
    const key = await apiKey(app);
    for (let i = 0; i < 3; i += 1) {
      await recordTokenRead(app.container.db, {
        apiKeyId: key.id,
        connectionId: 'c1',
        at: Date.now() - 200 * DAY,
        renewed: false,
      });
    }
    const refused = await runCli(['prune', '--batch-size', '0'], app.env);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--batch-size must be a whole number from 1 to 10000');
    expect(await countOf(app, 'token_reads')).toBe(3);

    const result = await runCli(['prune', '--batch-size', '2'], app.env);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('token reads (audit): 90 days');
    expect(result.stdout).toMatch(/token_reads\s+3/);
    expect(result.stdout).toMatch(/events\s+0/);
    expect(await countOf(app, 'token_reads')).toBe(0);
  });
});
