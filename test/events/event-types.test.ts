import { DAY, HOUR } from '../../src/shared/clock';
import { signEvent } from '../../src/events/signature';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { connect, ODD_ACCOUNT, type TestApp } from '../support/harness';
import { row, storedToken } from '../support/factories';
import { csrfFrom, formAction } from '../support/pages';
import { apiKey, bearer } from '../api/api-support';
import { expectNoTokens, startEventsApp, type EventsTestApp } from './events-support';
import type { EventReceiver, ReceivedEvent } from './receiver';

/**
 * Every event type, each caused by the real flow that causes it in production (the connect flow through
 * the sandbox, the keeper, the API, the status page, Meta's callbacks), delivered by the relay to a
 * receiver that verifies each request with the `standardwebhooks` package.
 */
describe('signed events: every type from its real flow', () => {
  let events: EventsTestApp;
  let app: TestApp;
  let receiver: EventReceiver;
  /** Every token the tests saw stored: none may appear in any event. */
  const tokens: string[] = [];

  beforeEach(async () => {
    events = await startEventsApp();
    ({ app, receiver } = events);
    tokens.length = 0;
  });
  afterEach(async () => {
    // Whatever the test did: every request verified, and no body carries a token.
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
    expectNoTokens(
      receiver.deliveries.map((d) => d.body),
      tokens,
    );
    await events.close();
  });

  /** Runs the relay and answers every event the receiver has accepted so far. */
  const delivered = async (): Promise<ReceivedEvent[]> => {
    await events.relay.deliverDue();
    return receiver.accepted();
  };
  const sweep = () => app.container.createKeeper('test-keeper').sweep();
  const remember = async (id: string) => tokens.push(storedToken(app, await row(app, id)));

  async function connectOdd(agent = app.agent()) {
    const response = await connect(agent, { account: ODD_ACCOUNT.igUserId });
    expect(response.status).toBe(303);
    const [created] = await delivered();
    if (!created) throw new Error('no connection.created event');
    await remember(created.data.id);
    return { agent, created };
  }

  it('when an account is connected and then connected again, then created and updated events carry the connection as the API shows it', async () => {
    const { agent, created } = await connectOdd();
    expect(created.type).toBe('connection.created');
    const body = receiver.deliveries[0]?.body ?? '';
    expect(Object.keys(JSON.parse(body) as object)).toEqual(['type', 'timestamp', 'data']);
    expect(created.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const { key } = await apiKey(app);
    const shown = await app.agent().get(`/api/v1/connections/${created.data.id}`).set(bearer(key));
    expect(created.data).toEqual(shown.body);
    expect(created.data).toMatchObject({
      instagram_user_id: ODD_ACCOUNT.igUserId,
      username: 'sunny.bakery',
      status: 'active',
      end_user_id: null,
    });
    expect(created.data).not.toHaveProperty('reason');

    app.clock.advance(HOUR);
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    await remember(created.data.id);
    const all = await delivered();
    expect(all.map((e) => e.type)).toEqual(['connection.created', 'connection.updated']);
    const updated = all[1] as ReceivedEvent;
    expect(updated.data.id).toBe(created.data.id);
    const shownAfter = await app.agent().get(`/api/v1/connections/${created.data.id}`).set(bearer(key));
    expect(updated.data).toEqual(shownAfter.body);
    expect(updated.data.updated_at).not.toBe(created.data.updated_at);
  });

  it('when the keeper sees a new username, then an updated event carries it; a new follower count alone sends nothing', async () => {
    const { created } = await connectOdd();
    app.sandbox.updateProfile(ODD_ACCOUNT.igUserId, { username: 'sunny.bakery.new' });
    app.clock.advance(2 * DAY);
    expect((await sweep()).byAction).toEqual({ validate: 1 });
    const all = await delivered();
    expect(all.map((e) => e.type)).toEqual(['connection.created', 'connection.updated']);
    expect(all[1]?.data).toMatchObject({ id: created.data.id, username: 'sunny.bakery.new' });

    app.sandbox.updateProfile(ODD_ACCOUNT.igUserId, { followersCount: 99_999 });
    app.clock.advance(2 * DAY);
    expect((await sweep()).byAction).toEqual({ validate: 1 });
    expect(await delivered()).toHaveLength(2);
  });

  it('when the keeper renews the token, then a refreshed event carries the new expiry', async () => {
    const { created } = await connectOdd();
    app.clock.advance(51 * DAY);
    // The renewal, then the check that was also due (its profile is unchanged: no event).
    expect((await sweep()).byAction).toEqual({ refresh: 1, validate: 1 });
    await remember(created.data.id);
    const all = await delivered();
    expect(all.map((e) => e.type)).toEqual(['connection.created', 'connection.refreshed']);
    const refreshed = all[1] as ReceivedEvent;
    expect(refreshed.data.id).toBe(created.data.id);
    expect(refreshed.data.token_refreshed_at).toEqual(expect.any(String));
    expect(Date.parse(refreshed.data.token_expires_at as string)).toBeGreaterThan(
      Date.parse(created.data.token_expires_at as string),
    );
    expect(refreshed.data).not.toHaveProperty('reason');
  });

  it.each([
    ['revoked', (t: TestApp) => t.sandbox.revokeTokens(ODD_ACCOUNT.igUserId), 2 * DAY],
    ['password_changed', (t: TestApp) => t.sandbox.changePassword(ODD_ACCOUNT.igUserId), 2 * DAY],
    ['expired', () => undefined, 61 * DAY],
  ])('when the keeper finds the token %s, then a needs_reconnect event says why', async (reason, happen, later) => {
    const { created } = await connectOdd();
    happen(app);
    app.clock.advance(later);
    await sweep();
    const all = await delivered();
    expect(all.map((e) => e.type)).toEqual(['connection.created', 'connection.needs_reconnect']);
    expect(all[1]?.data).toMatchObject({
      id: created.data.id,
      status: 'needs_reconnect',
      status_reason: reason,
      reason,
    });
    // Marked once: later sweeps report nothing more.
    app.clock.advance(2 * DAY);
    await sweep();
    expect(await delivered()).toHaveLength(2);
  });

  it.each([
    [
      'user',
      async (t: TestApp, agent: ReturnType<TestApp['agent']>) => {
        const page = await agent.get('/account');
        const response = await agent
          .post(formAction(page.text, 'disconnect'))
          .type('form')
          .set('Origin', t.url)
          .set('Sec-Fetch-Site', 'same-origin')
          .send({ _csrf: csrfFrom(page.text) });
        expect(response.status).toBe(303);
      },
    ],
    [
      'api',
      async (t: TestApp, _agent: unknown, id: string) => {
        const { key } = await apiKey(t);
        expect((await t.agent().delete(`/api/v1/connections/${id}`).set(bearer(key))).status).toBe(204);
        expect((await t.agent().delete(`/api/v1/connections/${id}`).set(bearer(key))).status).toBe(404);
      },
    ],
    ['deauthorize', (t: TestApp) => t.sandbox.removeApp(ODD_ACCOUNT.igUserId)],
    [
      'data_deletion',
      async (t: TestApp) => {
        expect((await t.sandbox.requestDataDeletion(ODD_ACCOUNT.igUserId)).status).toBe(200);
      },
    ],
  ])(
    'when a connection is deleted (%s), then a deleted event carries it as it was and the reason',
    async (reason, remove) => {
      const { agent, created } = await connectOdd();
      app.clock.advance(HOUR);
      await remove(app, agent, created.data.id);
      expect(await app.container.connections.get(created.data.id)).toBeUndefined();
      const all = await delivered();
      expect(all.map((e) => e.type)).toEqual(['connection.created', 'connection.deleted']);
      expect(all[1]?.data).toEqual({ ...created.data, reason });
    },
  );

  it('when two people connect the same account, then each connection has its own events', async () => {
    await connectOdd();
    await connect(app.agent(), { account: ODD_ACCOUNT.igUserId });
    const second = SANDBOX_TEST_ACCOUNTS[1]?.igUserId ?? '';
    await connect(app.agent(), { account: second });
    const all = await delivered();
    expect(all.map((e) => e.type)).toEqual(['connection.created', 'connection.created', 'connection.created']);
    expect(new Set(all.map((e) => e.data.id)).size).toBe(3);
  });

  it('when a delivered request is tampered with or signed with another secret, then the receiver refuses it', async () => {
    await connectOdd();
    const original = receiver.deliveries[0];
    if (!original) throw new Error('nothing delivered');
    expect(original.signature).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    expect(original.id).toMatch(/^msg_[0-9a-f]{32}$/);
    const post = (body: string, signature: string) =>
      fetch(receiver.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': original.id,
          'webhook-timestamp': original.timestamp,
          'webhook-signature': signature,
        },
        body,
      });
    const tampered = original.body.replace('"status":"active"', '"status":"needs_reconnect"');
    expect(tampered).not.toBe(original.body);
    expect((await post(tampered, original.signature)).status).toBe(400);
    const otherSecret = Buffer.alloc(32, 7);
    expect(
      (await post(original.body, signEvent(otherSecret, original.id, Number(original.timestamp), original.body)))
        .status,
    ).toBe(400);
    // The untouched request still verifies (a replay within the tolerance: the receiver's job to dedupe by id).
    expect((await post(original.body, original.signature)).status).toBe(204);
    // The hand-made requests are not igconnect's: drop them before the afterEach check.
    receiver.deliveries.splice(1);
  });
});
