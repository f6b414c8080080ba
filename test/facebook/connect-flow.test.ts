import { finishCallback, ODD_ACCOUNT, connect, startTestApp, type TestApp } from '../support/harness';
import { storedToken } from '../support/factories';
import { csrfFrom } from '../support/pages';
import { ALEX, authorizeFacebook, FACEBOOK_ENV, MORGAN_NOT_TESTER, PAGES, SAM } from '../support/facebook';

/**
 * Instagram through Facebook Login for Business, against the built-in sandbox over HTTP: one connection
 * per Instagram account behind the person's Pages, the person choosing among several, Pages that could
 * not be connected named, and Page tokens that do not expire.
 */
describe('Facebook Login for Business: connecting', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp({ env: FACEBOOK_ENV });
  });
  afterEach(async () => {
    await app.close();
  });

  const rows = () => app.container.db.selectFrom('connections').selectAll().orderBy('account_id').execute();

  it('when both ways in are configured, then the home page offers both', async () => {
    const home = await app.agent().get('/');
    expect(home.text).toContain('href="/auth/instagram"');
    expect(home.text).toContain('href="/auth/facebook"');
  });

  it('when the dialog is opened, then it carries response_type=code and Facebook Login scopes only', async () => {
    const start = await app.agent().get('/auth/facebook');
    const url = new URL(start.headers.location as string);
    expect(url.pathname).toBe('/sandbox/facebook/v25.0/dialog/oauth');
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('scope')).toBe('instagram_basic,pages_show_list,business_management');
    expect(url.searchParams.get('redirect_uri')).toBe(`${app.url}/auth/facebook/callback`);
    expect(url.searchParams.get('state')?.length).toBeGreaterThanOrEqual(43);
  });

  it('when a person with two linked Pages and one without shares everything, then the picker lists every account found, all ticked, and connects the ticked ones', async () => {
    const agent = app.agent();
    const page = await startAndPick(agent);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Choose the accounts to connect');
    for (const p of [PAGES.sunny, PAGES.trail]) {
      expect(page.text).toMatch(new RegExp(`name="account" value="${p.ig}" checked`));
      expect(page.text).toContain(`@${p.username}`);
      expect(page.text).toContain(p.name);
    }
    expect(page.text).toContain(`The Page “${PAGES.corner.name}” has no Instagram professional account linked`);
    const done = await agent
      .post('/auth/facebook/choose')
      .type('form')
      .send(
        `_csrf=${encodeURIComponent(csrfFrom(page.text))}&account=${PAGES.sunny.ig}&account=${PAGES.trail.ig}&account=${PAGES.pixel.ig}`,
      );
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('/account');
    const stored = await rows();
    expect(stored.map((r) => r.account_id)).toEqual([PAGES.trail.ig, PAGES.sunny.ig, PAGES.pixel.ig].sort());
    for (const row of stored) {
      expect(row.provider).toBe('facebook');
      expect(row.subject_id).toBe(ALEX);
      expect(row.token_expires_at).toBeNull();
      expect(Number(row.access_expires_at)).toBeGreaterThan(app.clock.now());
    }
    const status = await agent.get('/account');
    for (const p of [PAGES.sunny, PAGES.trail]) {
      expect(status.text).toMatch(
        new RegExp(`data-instagram-user-id="${p.ig}" data-status="active" data-provider="facebook"`),
      );
    }
    expect(status.text).toContain('Data access ends');
  });

  async function startAndPick(agent: ReturnType<TestApp['agent']>, choice = {}) {
    const callback = await authorizeFacebook(agent, { person: ALEX, ...choice });
    const answer = await agent.get(new URL(callback).pathname + new URL(callback).search);
    expect(answer.status).toBe(303);
    expect(answer.headers.location).toBe('/auth/facebook/choose');
    return agent.get('/auth/facebook/choose');
  }

  it('when the person unticks one account in the picker, then only the ticked ones are connected', async () => {
    const agent = app.agent();
    const page = await startAndPick(agent);
    await agent
      .post('/auth/facebook/choose')
      .type('form')
      .send(`_csrf=${encodeURIComponent(csrfFrom(page.text))}&account=${PAGES.trail.ig}`);
    expect((await rows()).map((r) => r.account_id)).toEqual([PAGES.trail.ig]);
  });

  it('when a Page is left out on the consent screen, then it is named on the result page and never stored', async () => {
    const agent = app.agent();
    const page = await startAndPick(agent, { pages: [PAGES.sunny.id, PAGES.trail.id, PAGES.corner.id] });
    expect(page.text).toContain(`The Page “${PAGES.pixel.name}” was left out`);
    const done = await agent
      .post('/auth/facebook/choose')
      .type('form')
      .send(`_csrf=${encodeURIComponent(csrfFrom(page.text))}&account=${PAGES.sunny.ig}&account=${PAGES.trail.ig}`);
    expect(done.status).toBe(303);
    const status = await agent.get('/account');
    expect(status.text).toContain(`“${PAGES.pixel.name}” was left out when you chose which Pages to share`);
    expect((await rows()).map((r) => r.account_id)).not.toContain(PAGES.pixel.ig);
  });

  it('when the picker is opened again after its choice was used, then the page leads back into the Facebook flow', async () => {
    const agent = app.agent();
    const page = await startAndPick(agent);
    await agent
      .post('/auth/facebook/choose')
      .type('form')
      .send(`_csrf=${encodeURIComponent(csrfFrom(page.text))}&account=${PAGES.trail.ig}`);
    const again = await agent.get('/auth/facebook/choose');
    expect(again.status).toBe(410);
    expect(again.text).toContain('data-error-code="CHOICE_EXPIRED"');
    expect(again.text).toContain('href="/auth/facebook"');
    expect(again.text).not.toContain('href="/auth/instagram"');
  });

  it('when the person has exactly one account, then the picker is skipped', async () => {
    const agent = app.agent();
    const answer = await finishCallback(agent, await authorizeFacebook(agent, { person: SAM }));
    expect(answer.status).toBe(303);
    expect(answer.headers.location).toBe('/account');
    expect(await rows()).toHaveLength(1);
  });

  it('when a connection is stored, then its token is the Page token got with the long-lived user token: it never expires', async () => {
    const agent = app.agent();
    await finishCallback(agent, await authorizeFacebook(agent, { person: SAM }));
    const [row] = await rows();
    const token = storedToken(app, row as NonNullable<typeof row>);
    expect(app.sandbox.facebook.tokenInfo(token)).toMatchObject({ type: 'PAGE', lifetime: 'long', expiresAt: null });
  });

  it('when business_management is not granted, then the person is told that business-owned Pages are not listed', async () => {
    const agent = app.agent();
    const callback = await authorizeFacebook(agent, {
      person: ALEX,
      scopes: ['instagram_basic', 'pages_show_list'],
    });
    await agent.get(new URL(callback).pathname + new URL(callback).search);
    const page = await agent.get('/auth/facebook/choose');
    expect(page.text).not.toContain(`@${PAGES.pixel.ig}`);
    expect(page.text).toContain('Business management');
  });

  it('when the person is not a tester of the app, then Facebook refuses and nothing is stored', async () => {
    const agent = app.agent();
    await expect(authorizeFacebook(agent, { person: MORGAN_NOT_TESTER })).rejects.toThrow(
      /answered 403|development mode/,
    );
    expect(await rows()).toHaveLength(0);
  });

  it('when the person cancels, then the cancel page offers Facebook again', async () => {
    const agent = app.agent();
    const page = await finishCallback(agent, await authorizeFacebook(agent, { decision: 'cancel' }));
    expect(page.text).toContain('data-error-code="CONNECT_CANCELLED"');
    expect(page.text).toContain('href="/auth/facebook"');
    expect(await rows()).toHaveLength(0);
  });

  it('when a state minted for Instagram is brought to the Facebook callback, then it is refused', async () => {
    const agent = app.agent();
    const start = await agent.get('/auth/instagram');
    const state = new URL(start.headers.location as string).searchParams.get('state') ?? '';
    const answer = await agent.get(`/auth/facebook/callback?code=x&state=${encodeURIComponent(state)}`);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('data-error-code="STATE_INVALID"');
  });

  it('when the same Instagram account is connected through both ways in, then there are two connections', async () => {
    const agent = app.agent();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    await finishCallback(agent, await authorizeFacebook(agent, { person: SAM }));
    const providers = (await rows()).map((r) => r.provider).sort();
    expect(providers).toEqual(['facebook', 'instagram']);
  });
});
