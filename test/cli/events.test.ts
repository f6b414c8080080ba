import { HOUR } from '../../src/shared/clock';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { runCli } from '../support/cli';
import { connect, ODD_ACCOUNT, type TestApp } from '../support/harness';
import { outboxRows, startEventsApp, type EventsTestApp } from '../events/events-support';
import type { EventReceiver } from '../events/receiver';

interface ListedEvent {
  id: string;
  type: string;
  connection_id: string;
  seq: number;
  status: string;
  attempts: number;
  last_error: string | null;
}

/** `events list` and `events redeliver` of the built CLI, against the test app's outbox and receiver. */
describe('cli: events', () => {
  let events: EventsTestApp;
  let app: TestApp;
  let receiver: EventReceiver;
  const cli = (args: string[], env: Record<string, string> = app.env) => runCli(args, { ...env, LOG_LEVEL: 'silent' });
  const list = async (...args: string[]) => {
    const result = await cli(['events', 'list', '--json', ...args]);
    expect(result.status).toBe(0);
    return JSON.parse(result.stdout) as ListedEvent[];
  };

  beforeEach(async () => {
    // The CLI runs on the real clock: so does the app here.
    events = await startEventsApp({ start: Date.now() });
    ({ app, receiver } = events);
  });
  afterEach(async () => {
    await events.close();
  });

  it('when events are listed, then each shows its state, attempts and last error, filtered by status', async () => {
    receiver.mode = 'fail';
    const agent = app.agent();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    await events.relay.deliverDue();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });

    const all = await list();
    expect(all.map((e) => [e.type, e.status, e.attempts, e.last_error, e.seq])).toEqual([
      ['connection.updated', 'pending', 0, null, 2],
      ['connection.created', 'pending', 1, 'HTTP 500', 1],
    ]);
    expect(await list('--status', 'delivered')).toEqual([]);
    expect(await list('--status', 'pending', '--limit', '1')).toHaveLength(1);

    const text = await cli(['events', 'list']);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(all[1]?.id);
    expect(text.stdout).toContain('HTTP 500');
    expect(text.stdout).toContain('2 event(s)');
  });

  it.each([[['--status', 'lost']], [['--limit', '0']], [['--limit', 'ten']], [['--stat', 'pending']], [['extra']]])(
    'when events list gets %p, then it exits 2 and says why',
    async (args) => {
      const result = await cli(['events', 'list', ...args]);
      expect(result.status).toBe(2);
      expect(result.stderr).not.toBe('');
    },
  );

  it('when an event is redelivered, then it goes out at once with the same webhook-id, even when already delivered', async () => {
    receiver.mode = 'fail';
    await connect(app.agent(), { account: ODD_ACCOUNT.igUserId });
    const [event] = await list();
    const id = event?.id ?? '';

    const refused = await cli(['events', 'redeliver', id]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`${id} was not accepted: HTTP 500`);
    expect((await list())[0]).toMatchObject({ status: 'pending', attempts: 1, last_error: 'HTTP 500' });

    receiver.mode = 'up';
    const sent = await cli(['events', 'redeliver', id]);
    expect(sent.status).toBe(0);
    expect(sent.stdout).toContain(`delivered ${id} (HTTP 204)`);
    expect((await list())[0]).toMatchObject({ status: 'delivered', attempts: 2, last_error: null });

    expect((await cli(['events', 'redeliver', id])).status).toBe(0);
    expect(receiver.accepted()).toHaveLength(2);
    expect(new Set(receiver.deliveries.map((d) => d.id))).toEqual(new Set([id]));
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
  });

  it('when a given-up event is redelivered, then it is delivered; a later one behind a pending one must wait', async () => {
    receiver.mode = 'fail';
    await connect(app.agent(), { account: ODD_ACCOUNT.igUserId });
    for (let round = 0; round < 100 && (await events.relay.deliverDue()).givenUp === 0; round += 1) {
      app.clock.advance(6 * HOUR);
    }
    const [given] = await list('--status', 'failed');
    expect(given?.type).toBe('connection.created');

    // Another connection whose first event is still pending: its second one waits for it.
    app.clock.set(Date.now());
    const other = app.agent();
    await connect(other, { account: SANDBOX_TEST_ACCOUNTS[1]?.igUserId ?? '' });
    await connect(other, { account: SANDBOX_TEST_ACCOUNTS[1]?.igUserId ?? '' });
    const [second, first] = await list('--status', 'pending');
    const waiting = await cli(['events', 'redeliver', second?.id ?? '']);
    expect(waiting.status).toBe(1);
    expect(waiting.stderr).toContain(`waits for ${first?.id}`);

    receiver.mode = 'up';
    expect((await cli(['events', 'redeliver', given?.id ?? ''])).status).toBe(0);
    const rows = await outboxRows(app);
    expect(rows.find((r) => r.id === given?.id)).toMatchObject({ failed_at: null, next_attempt_at: null });
    expect(receiver.accepted().map((e) => e.type)).toEqual(['connection.created']);
  });

  it('when the id is unknown or events are not configured, then redeliver exits 1 and says so', async () => {
    const unknown = await cli(['events', 'redeliver', 'msg_nope']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no event with id msg_nope');
    const { EVENTS_WEBHOOK_URL: _u, EVENTS_WEBHOOK_SECRET: _s, ...bare } = app.env;
    const off = await cli(['events', 'redeliver', 'msg_nope'], bare);
    expect(off.status).toBe(1);
    expect(off.stderr).toContain('events are not configured');
    expect((await cli(['events', 'redeliver'])).status).toBe(2);
  });
});
