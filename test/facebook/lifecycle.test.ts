import { signRequest } from '../../src/sandbox/sandbox';
import { DAY } from '../../src/shared/clock';
import { authorizeFacebook, FACEBOOK_ENV, PAGES, SAM, ALEX } from '../support/facebook';
import { connect, finishCallback, ODD_ACCOUNT, startTestApp, type TestApp } from '../support/harness';
import { csrfFrom, formAction } from '../support/pages';
import { apiKey, bearer } from '../api/api-support';

/**
 * A Facebook connection over its life: Page tokens are never renewed, checks use the Page token, the
 * 90-day data-access lapse is shown ahead and marks the connection only when it comes, Meta's callbacks
 * for the Facebook user remove what that person made, and the app is withdrawn at Meta after the
 * person's last Facebook connection is gone (never before).
 */
describe('Facebook Login for Business: lifecycle', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp({ env: { ...FACEBOOK_ENV, VALIDATE_INTERVAL_HOURS: '24' } });
  });
  afterEach(async () => {
    await app.close();
  });

  const rows = () => app.container.db.selectFrom('connections').selectAll().orderBy('account_id').execute();
  const facebook = () => app.sandbox.facebook;

  async function connectSam() {
    const agent = app.agent();
    await finishCallback(agent, await authorizeFacebook(agent, { person: SAM }));
    return agent;
  }

  async function connectAlexBoth() {
    const agent = app.agent();
    const callback = new URL(await authorizeFacebook(agent, { person: ALEX }));
    await agent.get(callback.pathname + callback.search);
    const page = await agent.get('/auth/facebook/choose');
    await agent
      .post('/auth/facebook/choose')
      .type('form')
      .send(`_csrf=${encodeURIComponent(csrfFrom(page.text))}&account=${PAGES.sunny.ig}&account=${PAGES.trail.ig}`);
    return agent;
  }

  it('when weeks pass, then the keeper checks the connection with its Page token and never tries to renew it', async () => {
    await connectSam();
    const keeper = app.container.createKeeper();
    facebook().resetCalls();
    for (let day = 0; day < 60; day += 5) {
      app.clock.advance(5 * DAY);
      await keeper.sweep();
    }
    expect(facebook().calls.fb_ig_user).toBeGreaterThan(5);
    expect(facebook().calls.fb_exchange).toBe(0);
    expect(app.sandbox.calls.refresh).toBe(0);
    const [row] = await rows();
    expect(row?.status).toBe('active');
    expect(row?.last_refreshed_at).toBeNull();
  });

  it('when data access lapses in 7 days, then the status page warns; when it lapses, the connection needs reconnecting', async () => {
    const agent = await connectSam();
    const [row] = await rows();
    expect(Number(row?.access_expires_at) - app.clock.now()).toBe(90 * DAY);
    // As if the person had connected 83 days ago (the session of this browser is fresh).
    const lapse = app.clock.now() + 7 * DAY;
    await app.container.db
      .updateTable('connections')
      .set({ access_expires_at: lapse, next_action_at: lapse })
      .where('id', '=', row?.id ?? '')
      .execute();
    const warned = await agent.get('/account');
    expect(warned.text).toContain('Reconnect soon');
    expect(warned.text).toContain('data-status="active"');
    app.clock.set(lapse - 1000);
    await app.container.createKeeper().sweep();
    expect((await rows())[0]?.status).toBe('active');
    app.clock.set(lapse + 1000);
    await app.container.createKeeper().sweep();
    const [after] = await rows();
    expect(after?.status).toBe('needs_reconnect');
    expect(after?.status_reason).toBe('data_access_expired');
    expect((await agent.get('/account')).text).toContain('ended the app');
  });

  it('when a Page token is invalidated (a role removed on the Page), then the next check marks that connection only', async () => {
    await connectAlexBoth();
    facebook().removePageRole(ALEX, PAGES.sunny.id);
    app.clock.advance(2 * DAY);
    await app.container.createKeeper().sweep();
    const byAccount = Object.fromEntries((await rows()).map((r) => [r.account_id, r]));
    expect(byAccount[PAGES.sunny.ig]?.status).toBe('needs_reconnect');
    expect(byAccount[PAGES.sunny.ig]?.status_reason).toBe('revoked');
    expect(byAccount[PAGES.trail.ig]?.status).toBe('active');
  });

  it('when Refresh now is pressed on a Facebook connection, then nothing is sent and the page says it cannot be renewed', async () => {
    const agent = await connectSam();
    app.clock.advance(3 * DAY);
    const page = await agent.get('/account');
    facebook().resetCalls();
    const answer = await agent
      .post(formAction(page.text, 'refresh'))
      .type('form')
      .send({ _csrf: csrfFrom(page.text) });
    expect(answer.status).toBe(303);
    expect((await agent.get('/account')).text).toContain('cannot be renewed');
    expect(facebook().calls.fb_exchange).toBe(0);
  });

  it('when a check of a Facebook connection is throttled, then the status page names Facebook, not Instagram', async () => {
    const agent = await connectSam();
    const before = await agent.get('/account');
    expect(before.text).toContain('igconnect checks the connection with Facebook');
    facebook().script('fb_ig_user', facebook().graphError(4, undefined, 'Application request limit reached'));
    await agent
      .post(formAction(before.text, 'validate'))
      .type('form')
      .send({ _csrf: csrfFrom(before.text) });
    const after = await agent.get('/account');
    expect(after.text).toContain('data-last-validation="throttled"');
    expect(after.text).toContain('Facebook asked us to slow down');
    expect(after.text).not.toMatch(/Instagram (asked us|did not answer)|checks the connection with Instagram/);
  });

  it('when Meta deauthorizes the Facebook user, then every connection that person made through Facebook goes, and no other', async () => {
    await connectAlexBoth();
    await connect(app.agent(), { account: ODD_ACCOUNT.igUserId });
    await connectSam();
    const secret = app.container.config.providers.facebook!.appSecret;
    const signed = signRequest(
      { algorithm: 'HMAC-SHA256', issued_at: Math.floor(app.clock.now() / 1000) + 1, user_id: ALEX },
      secret,
    );
    const answer = await app
      .agent()
      .post('/webhooks/facebook/deauthorize')
      .type('form')
      .send(`signed_request=${encodeURIComponent(signed)}`);
    expect(answer.status).toBe(200);
    const left = await rows();
    expect(left.map((r) => `${r.provider}:${r.subject_id}`).sort()).toEqual(
      ['facebook:' + SAM, `instagram:${ODD_ACCOUNT.appScopedId}`].sort(),
    );
  });

  it('when a Facebook callback is signed with the Instagram app secret, then it is refused', async () => {
    await connectSam();
    const wrong = signRequest(
      { algorithm: 'HMAC-SHA256', issued_at: Math.floor(app.clock.now() / 1000), user_id: SAM },
      app.container.config.providers.instagram!.appSecret,
    );
    const answer = await app
      .agent()
      .post('/webhooks/facebook/deauthorize')
      .type('form')
      .send(`signed_request=${encodeURIComponent(wrong)}`);
    expect(answer.status).toBe(403);
    expect(await rows()).toHaveLength(1);
  });

  it("when the person's last Facebook connection is disconnected, then the app is withdrawn at Meta; not before", async () => {
    const agent = await connectAlexBoth();
    facebook().resetCalls();
    const first = await agent.get('/account');
    await agent
      .post(formAction(first.text, 'disconnect'))
      .type('form')
      .send({ _csrf: csrfFrom(first.text) });
    expect(facebook().calls.fb_permissions).toBe(0);
    const second = await agent.get('/account');
    await agent
      .post(formAction(second.text, 'disconnect'))
      .type('form')
      .send({ _csrf: csrfFrom(second.text) });
    expect(facebook().calls.fb_permissions).toBe(1);
    expect(await rows()).toHaveLength(0);
  });

  it('when a Facebook connection is deleted through the API, then it is withdrawn at Meta too when it was the last', async () => {
    await connectSam();
    const { key } = await apiKey(app);
    const [row] = await rows();
    facebook().resetCalls();
    const answer = await app.agent().delete(`/api/v1/connections/${row?.id}`).set(bearer(key));
    expect(answer.status).toBe(204);
    expect(facebook().calls.fb_permissions).toBe(1);
  });

  it('when the API lists Facebook connections, then they have the same shape, token_expires_at null', async () => {
    await connectSam();
    const { key } = await apiKey(app);
    const list = await app.agent().get('/api/v1/connections').set(bearer(key));
    const [c] = list.body.data;
    expect(c).toMatchObject({ provider: 'facebook', token_expires_at: null, status: 'active' });
    expect(c.instagram_user_id).toMatch(/^\d{17}$/);
  });
});
