import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { connect, ODD_ACCOUNT, startTestApp, type TestApp } from '../support/harness';
import { describeOnPostgres } from '../support/postgres';
import { type RunningProcess, startWebProcess, startWorkerProcess, waitFor } from '../support/processes';
import { apiKey, bearer } from '../api/api-support';
import { outboxRows } from './events-support';
import { EventReceiver } from './receiver';

/**
 * The relay in real processes (`npm run worker`, `npm start`) on the test app's database: the app makes
 * the changes, the processes deliver them to a receiver that verifies every request with `standardwebhooks`.
 */
async function startApp(receiver: EventReceiver, env: Record<string, string> = {}): Promise<TestApp> {
  return startTestApp({
    // The processes run on the real clock: the app's changes happen "now" too.
    start: Date.now(),
    env: {
      EVENTS_WEBHOOK_URL: receiver.url,
      EVENTS_WEBHOOK_SECRET: receiver.secret,
      EVENTS_POLL_INTERVAL_SECONDS: '1',
      EVENTS_RETRY_BASE_SECONDS: '1',
      ...env,
    },
  });
}

describe('signed events: relay processes', () => {
  let receiver: EventReceiver;
  let app: TestApp;
  const processes: RunningProcess[] = [];

  beforeEach(async () => {
    receiver = await EventReceiver.start();
  });
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.kill()));
    await app.close();
    await receiver.close();
  });

  const worker = async () => {
    const started = await startWorkerProcess({ ...app.env, LOG_LEVEL: 'info', KEEPER_INTERVAL_SECONDS: '3600' });
    processes.push(started);
    return started;
  };

  it('when the process is killed while delivering, then the event is delivered after a restart', async () => {
    // A deadline of 3 s: the dead process's lease (2 x 3 s + 5 s) lapses 11 s after its claim.
    app = await startApp(receiver, { EVENTS_TIMEOUT_SECONDS: '3' });
    expect((await connect(app.agent(), { account: ODD_ACCOUNT.igUserId })).status).toBe(303);
    receiver.mode = 'hang';
    const first = await worker();
    await receiver.waitFor(() => receiver.deliveries.length === 1, 'the first attempt');
    await first.kill();
    const [held] = await outboxRows(app);
    expect(held?.delivered_at).toBeNull();
    expect(held?.lease_owner).not.toBeNull();

    receiver.mode = 'up';
    await worker();
    const [event] = await receiver.waitForAccepted(1, 30_000);
    expect(event?.type).toBe('connection.created');
    const ids = receiver.deliveries.map((d) => d.id);
    expect(ids).toEqual([held?.id, held?.id]);
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
    // The receiver has answered; the process records it just after.
    const stored = await waitFor(async () => {
      const [row] = await outboxRows(app);
      return row?.delivered_at === null ? undefined : row;
    }, 'the delivery to be recorded');
    expect(Number(stored?.attempts)).toBe(2);
  }, 60_000);

  it('when the receiver refuses connections while a process is killed and restarted, then nothing is lost', async () => {
    app = await startApp(receiver);
    await receiver.down();
    const running = await worker();
    expect((await connect(app.agent(), { account: ODD_ACCOUNT.igUserId })).status).toBe(303);
    await receiver.waitFor(() => running.output().includes('event delivery failed'), 'a refused attempt');
    await running.kill();
    await receiver.up();
    await worker();
    const [event] = await receiver.waitForAccepted(1, 30_000);
    expect(event?.type).toBe('connection.created');
  }, 60_000);

  it('when a worker gets SIGTERM during a delivery, then the delivery finishes and is recorded', async () => {
    app = await startApp(receiver);
    receiver.delayMs = 1000;
    const running = await worker();
    expect((await connect(app.agent(), { account: ODD_ACCOUNT.igUserId })).status).toBe(303);
    await receiver.waitFor(() => receiver.deliveries.length === 1, 'the delivery to start');
    await running.stop();
    expect(running.child.exitCode).toBe(0);
    expect(running.output()).toContain('event relay stopped');
    const [stored] = await outboxRows(app);
    expect(stored?.delivered_at).not.toBeNull();
    expect(stored?.lease_owner).toBeNull();
    expect(receiver.accepted()).toHaveLength(1);
  }, 60_000);
});

describeOnPostgres('signed events: two relays on one PostgreSQL', () => {
  let receiver: EventReceiver;
  let app: TestApp;
  const processes: RunningProcess[] = [];

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.kill()));
    await app.close();
    await receiver.close();
  });

  it('when two web processes deliver one backlog, then each event arrives once, never twice at once, in order per connection', async () => {
    receiver = await EventReceiver.start();
    app = await startApp(receiver);
    const { key } = await apiKey(app);
    // A backlog written while no relay runs: 12 connections, 30 events.
    for (let i = 0; i < 12; i += 1) {
      const agent = app.agent();
      const account = SANDBOX_TEST_ACCOUNTS[i % 3]?.igUserId ?? '';
      expect((await connect(agent, { account })).status).toBe(303);
      expect((await connect(agent, { account })).status).toBe(303);
    }
    const connections = await app.container.connections.listAll();
    for (const c of connections.slice(0, 6)) {
      expect((await app.agent().delete(`/api/v1/connections/${c.id}`).set(bearer(key))).status).toBe(204);
    }
    const rows = await outboxRows(app);
    expect(rows).toHaveLength(30);

    // Slow answers widen every race; a connection's first event is the slowest, so that its later ones
    // would overtake it if they were ever sent before it was answered.
    receiver.delayMs = (event) => (event.type === 'connection.created' ? 300 : 100);
    const env = { ...app.env, LOG_LEVEL: 'info' };
    processes.push(...(await Promise.all([startWebProcess(env), startWebProcess(env)])));
    await receiver.waitForAccepted(30, 40_000);
    // Time for any second delivery to show up.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    expect(receiver.overlapping).toEqual([]);
    const ids = receiver.deliveries.map((d) => d.id);
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);
    expect(receiver.deliveries.every((d) => d.verified && d.answered === 204)).toBe(true);
    // In order: a connection's next event is sent only after its previous one was answered.
    const byId = new Map(receiver.deliveries.map((d) => [d.id, d]));
    for (const c of connections) {
      const own = rows.filter((r) => r.connection_id === c.id).sort((a, b) => Number(a.seq) - Number(b.seq));
      for (let i = 1; i < own.length; i += 1) {
        const before = byId.get(own[i - 1]?.id ?? '');
        const after = byId.get(own[i]?.id ?? '');
        expect(after?.arrived).toBeGreaterThan(before?.answeredAt ?? Infinity);
      }
    }
  }, 90_000);
});
