import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { claimDue } from '../../src/events/events.repository';
import { DAY, HOUR, MINUTE } from '../../src/shared/clock';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { connect, ODD_ACCOUNT, startTestApp, type TestApp } from '../support/harness';
import { row, storedToken } from '../support/factories';
import { apiKey, bearer } from '../api/api-support';
import { expectNoTokens, outboxRows, startEventsApp, type EventsTestApp } from './events-support';
import type { EventReceiver } from './receiver';

const OTHER_ACCOUNT = SANDBOX_TEST_ACCOUNTS[1]?.igUserId ?? '';

/** Waits until the wall clock's second changes, so that two attempts get different `webhook-timestamp`s. */
async function nextSecond(): Promise<void> {
  const second = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === second) await new Promise((resolve) => setTimeout(resolve, 20));
}

/**
 * Delivery: retries with backoff while the receiver is down, order per connection, giving up, leases
 * between relays, and no event for a change that did not commit. One app process; the relay's rounds are
 * run by hand and the app's clock is moved to make retries due.
 */
describe('signed events: delivery', () => {
  let events: EventsTestApp;
  let app: TestApp;
  let receiver: EventReceiver;
  let key: string;

  beforeEach(async () => {
    events = await startEventsApp();
    ({ app, receiver } = events);
    ({ key } = await apiKey(app));
  });
  afterEach(async () => {
    await events.close();
  });

  const deliver = () => events.relay.deliverDue();
  const connectAccount = async (agent: ReturnType<TestApp['agent']>, account: string) => {
    expect((await connect(agent, { account })).status).toBe(303);
  };
  const idOf = async (account: string) =>
    (await app.container.connections.listAll()).find((c) => c.accountId === account)?.id ?? '';

  it('when the receiver is down for a while, then every event arrives after it comes back, in order per connection', async () => {
    receiver.mode = 'fail';
    const odd = app.agent();
    await connectAccount(odd, ODD_ACCOUNT.igUserId);
    await connectAccount(app.agent(), OTHER_ACCOUNT);
    app.clock.advance(MINUTE);
    await connectAccount(odd, ODD_ACCOUNT.igUserId);
    const oddId = await idOf(ODD_ACCOUNT.igUserId);
    const otherId = await idOf(OTHER_ACCOUNT);
    expect((await app.agent().delete(`/api/v1/connections/${otherId}`).set(bearer(key))).status).toBe(204);
    expect((await app.agent().delete(`/api/v1/connections/${oddId}`).set(bearer(key))).status).toBe(204);

    // 500: only the first event of each connection is tried; the later ones wait behind it.
    expect(await deliver()).toMatchObject({ claimed: 2, retried: 2, delivered: 0 });
    const firstIds = new Set(receiver.deliveries.map((d) => d.id));
    expect(firstIds.size).toBe(2);

    // Refused connections: the same two, again and again, each time signed afresh.
    await receiver.down();
    for (let round = 0; round < 3; round += 1) {
      await nextSecond();
      app.clock.advance(HOUR);
      expect(await deliver()).toMatchObject({ claimed: 2, retried: 2 });
    }
    await receiver.up();
    receiver.mode = 'up';
    await nextSecond();
    app.clock.advance(HOUR);
    const summary = await deliver();
    expect(summary).toMatchObject({ delivered: 5, retried: 0, givenUp: 0 });

    const accepted = receiver.accepted();
    const of = (id: string) => accepted.filter((e) => e.data.id === id).map((e) => e.type);
    expect(of(oddId)).toEqual(['connection.created', 'connection.updated', 'connection.deleted']);
    expect(of(otherId)).toEqual(['connection.created', 'connection.deleted']);
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true);

    // Each first event: five attempts, of which the receiver saw two (the 500 and the last), with one
    // webhook-id, one body, and each its own timestamp and signature.
    for (const id of firstIds) {
      const attempts = receiver.deliveries.filter((d) => d.id === id);
      expect(attempts).toHaveLength(2);
      expect(new Set(attempts.map((a) => a.timestamp)).size).toBe(2);
      expect(new Set(attempts.map((a) => a.signature)).size).toBe(2);
      expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
    }
    const rows = await outboxRows(app);
    expect(rows.every((r) => r.delivered_at !== null && r.lease_owner === null && r.next_attempt_at === null)).toBe(
      true,
    );
    expect(rows.filter((r) => firstIds.has(r.id)).map((r) => Number(r.attempts))).toEqual([5, 5]);
  });

  it('when the receiver never accepts an event for three days, then it is given up and no longer holds back later ones', async () => {
    receiver.mode = 'fail';
    const agent = app.agent();
    await connectAccount(agent, ODD_ACCOUNT.igUserId);
    const created = app.clock.now();
    let attempts = 0;
    for (let round = 0; round < 100; round += 1) {
      const summary = await deliver();
      attempts += summary.claimed;
      if (summary.givenUp === 1) break;
      app.clock.advance(HOUR);
    }
    const [given] = await outboxRows(app);
    expect(given?.failed_at).not.toBeNull();
    expect(given?.next_attempt_at).toBeNull();
    expect(given?.last_error).toBe('HTTP 500');
    expect(Number(given?.failed_at) - created).toBeGreaterThanOrEqual(3 * DAY);
    // Backoff: far fewer attempts than the hourly rounds it was offered.
    expect(attempts).toBe(Number(given?.attempts));
    expect(attempts).toBeGreaterThan(5);
    expect(attempts).toBeLessThan(40);

    receiver.mode = 'up';
    await connectAccount(agent, ODD_ACCOUNT.igUserId);
    expect(await deliver()).toMatchObject({ delivered: 1 });
    expect(receiver.accepted().map((e) => e.type)).toEqual(['connection.updated']);
  });

  it('when the receiver does not answer in time or redirects, then the attempt fails and is retried', async () => {
    receiver.mode = 'hang';
    await connectAccount(app.agent(), ODD_ACCOUNT.igUserId);
    expect(await deliver()).toMatchObject({ retried: 1 });
    const [timedOut] = await outboxRows(app);
    expect(timedOut?.last_error).toBe('no answer within 2 s');

    // A redirect is never followed: the receiver behind it hears nothing.
    const redirector: Server = createServer((_req, res) => res.writeHead(307, { location: receiver.url }).end());
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const redirecting = await startEventsApp({
      env: { EVENTS_WEBHOOK_URL: `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/hook` },
    });
    try {
      await connectAccount(redirecting.app.agent(), ODD_ACCOUNT.igUserId);
      expect(await redirecting.relay.deliverDue()).toMatchObject({ retried: 1 });
      const [redirected] = await outboxRows(redirecting.app);
      expect(redirected?.last_error).toBe('HTTP 307 (redirects are not followed)');
      expect(redirecting.receiver.deliveries).toHaveLength(0);
      expect(receiver.deliveries).toHaveLength(1);
    } finally {
      await redirecting.close();
      await new Promise<void>((resolve) => redirector.close(() => resolve()));
    }

    receiver.mode = 'up';
    receiver.release();
    app.clock.advance(HOUR);
    expect(await deliver()).toMatchObject({ delivered: 1 });
  });

  it('when a connect rolls back, or a keeper lost its lease, then no event is ever sent for it', async () => {
    const account = ODD_ACCOUNT.igUserId;
    const accessToken = app.sandbox.issueLongLivedToken(account);
    const attempt = app.container.connections.connect({
      provider: 'instagram',
      endUserId: 'user-42',
      accounts: [
        {
          accountId: account,
          subjectId: ODD_ACCOUNT.appScopedId,
          profile: {
            username: 'sunny.bakery',
            name: null,
            accountType: 'BUSINESS',
            profilePictureUrl: null,
            followersCount: null,
            mediaCount: null,
          },
          token: { accessToken, expiresInSeconds: 5_184_000 },
          grantedScopes: ['instagram_business_basic'],
        },
      ],
      requestedScopes: ['instagram_business_basic'],
      inTransaction: async () => {
        throw new Error('the connect link was used meanwhile');
      },
    });
    await expect(attempt).rejects.toThrow('used meanwhile');
    expect(await app.container.connections.listAll()).toHaveLength(0);
    expect(await outboxRows(app)).toHaveLength(0);

    // A keeper claims a connection and checks it with its (revoked) token while the person reconnects,
    // which takes the row from the keeper: the keeper's late "needs reconnect" is dropped, and its event.
    const agent = app.agent();
    await connectAccount(agent, account);
    const claim = await app.container.connections.claimOne({
      id: await idOf(account),
      owner: 'stalled-keeper',
      now: app.clock.now(),
      leaseMs: MINUTE,
    });
    if (!claim) throw new Error('not claimed');
    app.sandbox.revokeTokens(account);
    await connectAccount(agent, account);
    const late = await app.container.lifecycle.process(claim, 'stalled-keeper', 'validate');
    expect(late.outcome).toBe('lease_lost');
    expect((await app.container.connections.get(claim.connection.id))?.status).toBe('active');

    await deliver();
    expect(receiver.accepted().map((e) => e.type)).toEqual(['connection.created', 'connection.updated']);
    expect(receiver.deliveries).toHaveLength(2);
  });

  it('when deletes of one connection race, then one gets 204, the others 404, and one deleted event is sent', async () => {
    const accounts = SANDBOX_TEST_ACCOUNTS.slice(0, 3).map((a) => a.igUserId);
    for (const account of accounts) await connectAccount(app.agent(), account);
    for (const account of accounts) {
      const id = await idOf(account);
      const statuses = await Promise.all(
        [1, 2, 3, 4].map(async () => (await app.agent().delete(`/api/v1/connections/${id}`).set(bearer(key))).status),
      );
      expect(statuses.sort()).toEqual([204, 404, 404, 404]);
    }
    await deliver();
    const types = receiver.accepted().map((e) => e.type);
    expect(types.filter((t) => t === 'connection.deleted')).toHaveLength(3);
    expect(types).toHaveLength(6);
  });

  it('when a relay holds an event, then another relay on the same database never delivers it at the same time', async () => {
    receiver.mode = 'hang';
    await connectAccount(app.agent(), ODD_ACCOUNT.igUserId);
    const other = app.container.createRelay('other-relay');
    if (!other) throw new Error('no relay');
    const first = deliver();
    await receiver.waitFor(() => receiver.deliveries.length === 1);
    expect(await other.deliverDue()).toMatchObject({ claimed: 0 });
    receiver.mode = 'up';
    receiver.release();
    expect(await first).toMatchObject({ delivered: 1 });
    expect(await other.deliverDue()).toMatchObject({ claimed: 0 });
    expect(receiver.deliveries.map((d) => d.id)).toHaveLength(1);
    expect(receiver.overlapping).toEqual([]);
  });

  it("when a relay dies holding an event, then another delivers it once the dead one's lease has lapsed", async () => {
    await connectAccount(app.agent(), ODD_ACCOUNT.igUserId);
    const settings = app.container.config.events;
    if (!settings) throw new Error('events not configured');
    // The dead relay's claim, as it was left in the database.
    const [held] = await claimDue(app.container.db, {
      owner: 'dead-relay',
      now: app.clock.now(),
      leaseMs: settings.leaseMs,
      limit: 10,
    });
    expect(held).toBeDefined();
    expect(await deliver()).toMatchObject({ claimed: 0 });
    app.clock.advance(settings.leaseMs);
    expect(await deliver()).toMatchObject({ delivered: 1 });
    const [stored] = await outboxRows(app);
    expect(Number(stored?.attempts)).toBe(2);
  });

  it('when a change commits while the relay runs, then its events go out at once, not at the next interval', async () => {
    const prompt = await startEventsApp({ env: { EVENTS_POLL_INTERVAL_SECONDS: '3600' } });
    try {
      const relay = prompt.app.container.createRelay('running-relay');
      relay?.start({ keepAlive: false });
      await connect(prompt.app.agent(), { account: ODD_ACCOUNT.igUserId });
      const [created] = await prompt.receiver.waitForAccepted(1);
      expect(created?.type).toBe('connection.created');

      // Stopping lets the delivery in flight finish and record its result.
      prompt.receiver.delayMs = 300;
      const id = (await prompt.app.container.connections.listAll())[0]?.id ?? '';
      const { key: promptKey } = await apiKey(prompt.app);
      expect((await prompt.app.agent().delete(`/api/v1/connections/${id}`).set(bearer(promptKey))).status).toBe(204);
      await prompt.receiver.waitFor(() => prompt.receiver.deliveries.length === 2);
      await relay?.stop();
      const rows = await outboxRows(prompt.app);
      expect(rows.map((r) => [r.type, r.delivered_at !== null, r.lease_owner])).toEqual([
        ['connection.created', true, null],
        ['connection.deleted', true, null],
      ]);
    } finally {
      await prompt.close();
    }
  });

  it('when events are delivered, retried and given up at debug level, then no secret, signature or token is logged', async () => {
    receiver.mode = 'fail';
    const agent = app.agent();
    await connectAccount(agent, ODD_ACCOUNT.igUserId);
    const token = storedToken(app, await row(app, await idOf(ODD_ACCOUNT.igUserId)));
    await deliver();
    await receiver.down();
    app.clock.advance(HOUR);
    await deliver();
    await receiver.up();
    receiver.mode = 'up';
    app.clock.advance(HOUR);
    await deliver();
    expect(receiver.accepted()).toHaveLength(1);
    const log = app.logs.join('');
    expect(log).toContain('event delivered');
    expect(log).toContain('event delivery failed');
    const secretBytes = receiver.secret.slice('whsec_'.length);
    for (const secret of [
      receiver.secret,
      secretBytes,
      token,
      ...receiver.deliveries.map((d) => d.signature.slice(3)),
    ]) {
      expect(log).not.toContain(secret);
    }
    expectNoTokens(
      receiver.deliveries.map((d) => d.body),
      [token],
    );
  });
});

describe('signed events: not configured', () => {
  it('when no receiver is configured, then changes record no events and there is no relay', async () => {
    const app = await startTestApp();
    try {
      await connect(app.agent(), { account: ODD_ACCOUNT.igUserId });
      expect(await outboxRows(app)).toHaveLength(0);
      expect(app.container.createRelay()).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
