import { DAY } from '../../src/shared/clock';
import { apiKey, bearer } from '../api/api-support';
import { authorizeFacebook, FACEBOOK_ENV, SAM } from '../support/facebook';
import { authorize, connect, finishCallback, ODD_ACCOUNT, type TestApp } from '../support/harness';
import { startEventsApp, type EventsTestApp } from './events-support';

/**
 * Events from the flows built beside the relay: a connect link (the end user's connection), the Graph
 * proxy (a 190 marks the connection), and the Facebook way in (one event per account; data access that
 * lapses is reported only when it lapses).
 */
describe('signed events across the API and both ways in', () => {
  let events: EventsTestApp;
  let app: TestApp;

  beforeEach(async () => {
    events = await startEventsApp({ env: FACEBOOK_ENV });
    app = events.app;
  });
  afterEach(async () => {
    expect(events.receiver.deliveries.every((d) => d.verified)).toBe(true);
    await events.close();
  });

  const delivered = async () => {
    await events.relay.deliverDue();
    return events.receiver.accepted();
  };

  it('when a connection is made through a connect link, then connection.created carries the end user', async () => {
    const { key } = await apiKey(app);
    const link = await app.agent().post('/api/v1/connect-sessions').set(bearer(key)).send({ end_user_id: 'user-42' });
    expect(link.status).toBe(201);
    const browser = app.agent();
    const path = new URL(link.body.url as string).pathname;
    await finishCallback(browser, await authorize(browser, { startPath: path }));
    const [created] = await delivered();
    expect(created).toMatchObject({
      type: 'connection.created',
      data: { end_user_id: 'user-42', provider: 'instagram' },
    });
  });

  it('when a Graph call through the proxy answers 190, then connection.needs_reconnect is sent at once', async () => {
    await connect(app.agent(), { account: ODD_ACCOUNT.igUserId });
    await delivered();
    const { key } = await apiKey(app);
    const [row] = await app.container.db.selectFrom('connections').select('id').execute();
    app.sandbox.revokeTokens(ODD_ACCOUNT.igUserId);
    const proxied = await app.agent().get(`/api/v1/connections/${row?.id}/proxy/me?fields=id`).set(bearer(key));
    expect(proxied.status).toBe(400);
    const all = await delivered();
    expect(all.map((e) => e.type)).toEqual(['connection.created', 'connection.needs_reconnect']);
    expect(all[1]?.data).toMatchObject({ status: 'needs_reconnect', reason: 'revoked' });
  });

  it('when a Facebook connection is made, then its event says provider facebook and token_expires_at null', async () => {
    const agent = app.agent();
    await finishCallback(agent, await authorizeFacebook(agent, { person: SAM }));
    const [created] = await delivered();
    expect(created).toMatchObject({
      type: 'connection.created',
      data: { provider: 'facebook', token_expires_at: null, status: 'active' },
    });
  });

  it('when data access lapses in 7 days, then nothing is sent until it lapses; then connection.needs_reconnect', async () => {
    const agent = app.agent();
    await finishCallback(agent, await authorizeFacebook(agent, { person: SAM }));
    await delivered();
    const [row] = await app.container.db.selectFrom('connections').select('id').execute();
    const lapse = app.clock.now() + 7 * DAY;
    await app.container.db
      .updateTable('connections')
      .set({ access_expires_at: lapse, next_action_at: lapse })
      .where('id', '=', row?.id ?? '')
      .execute();
    expect((await agent.get('/account')).text).toContain('Reconnect soon');
    app.clock.set(lapse - 60_000);
    await app.container.createKeeper().sweep();
    expect((await delivered()).map((e) => e.type)).toEqual(['connection.created']);
    app.clock.set(lapse + 1000);
    await app.container.createKeeper().sweep();
    const all = await delivered();
    expect(all.map((e) => e.type)).toEqual(['connection.created', 'connection.needs_reconnect']);
    expect(all[1]?.data.reason).toBe('data_access_expired');
  });
});
