import { startTestApp, type TestApp } from '../support/harness';
import { csrfFrom, formAction } from '../support/pages';
import { PROVIDERS } from '../support/providers';

const disconnectPath = (html: string) => formAction(html, 'disconnect');

describe.each(PROVIDERS)('disconnect (%s)', (_name, p) => {
  let app: TestApp;
  const connect = p.connect;
  const [odd, other] = p.accounts;

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterEach(async () => {
    await app.close();
  });

  const count = async () => (await app.container.db.selectFrom('connections').selectAll().execute()).length;

  it('when the person disconnects with the form, then the connection and its token are deleted', async () => {
    const agent = app.agent();
    await connect(agent, { account: odd });
    const page = await agent.get('/account');
    const response = await agent
      .post(disconnectPath(page.text))
      .type('form')
      .set('Origin', app.url)
      .set('Sec-Fetch-Site', 'same-origin')
      .send({ _csrf: csrfFrom(page.text) });
    expect(response.status).toBe(303);
    expect(response.headers.location).toBe('/account');
    expect(await count()).toBe(0);
    const after = await agent.get('/account');
    expect(after.text).not.toContain(odd.igUserId);
    expect(after.text).toContain('disconnected');
  });

  it('when one of two accounts is disconnected, then the other remains', async () => {
    const agent = app.agent();
    const [first, second] = [odd, other];
    await connect(agent, { account: first });
    await connect(agent, { account: second });
    const page = await agent.get('/account');
    // Both were connected at the same instant of the test clock: pick the first account's form by its id.
    const { id } = await app.container.db
      .selectFrom('connections')
      .select('id')
      .where('account_id', '=', first.igUserId)
      .executeTakeFirstOrThrow();
    await agent
      .post(`/account/connections/${id}/disconnect`)
      .type('form')
      .send({ _csrf: csrfFrom(page.text) });
    const after = await agent.get('/account');
    expect(after.text).not.toContain(`data-instagram-user-id="${first.igUserId}"`);
    expect(after.text).toContain(`data-instagram-user-id="${second.igUserId}"`);
  });

  it.each([
    ['no form token', {}, {}],
    ['a wrong form token', { _csrf: 'wrong' }, {}],
    ['a cross-site Sec-Fetch-Site', 'valid', { 'Sec-Fetch-Site': 'cross-site' }],
    ['a foreign Origin', 'valid', { Origin: 'https://evil.example' }],
    ['Origin: null and no Sec-Fetch-Site', 'valid', { Origin: 'null' }],
    ['Origin: null from another site', 'valid', { Origin: 'null', 'Sec-Fetch-Site': 'cross-site' }],
  ] as const)(
    'when the disconnect post has %s, then it is refused and nothing is deleted',
    async (_name, body, headers) => {
      const agent = app.agent();
      await connect(agent);
      const page = await agent.get('/account');
      const form = body === 'valid' ? { _csrf: csrfFrom(page.text) } : body;
      const response = await agent.post(disconnectPath(page.text)).type('form').set(headers).send(form);
      expect(response.status).toBe(403);
      expect(response.text).toContain('data-error-code="CSRF_FAILED"');
      expect(await count()).toBe(1);
    },
  );

  it('when a browser posts the form under no-referrer (Origin: null, Sec-Fetch-Site: same-origin), then it is accepted', async () => {
    const agent = app.agent();
    await connect(agent);
    const page = await agent.get('/account');
    const response = await agent
      .post(disconnectPath(page.text))
      .type('form')
      .set({ Origin: 'null', 'Sec-Fetch-Site': 'same-origin' })
      .send({ _csrf: csrfFrom(page.text) });
    expect(response.status).toBe(303);
    expect(await count()).toBe(0);
  });

  it("when a person tries to disconnect someone else's connection, then it is not found and nothing is deleted", async () => {
    const owner = app.agent();
    await connect(owner, { account: odd });
    const ownerPage = await owner.get('/account');
    const stranger = app.agent();
    await connect(stranger, { account: other });
    const otherPage = await stranger.get('/account');
    const response = await stranger
      .post(disconnectPath(ownerPage.text))
      .type('form')
      .send({ _csrf: csrfFrom(otherPage.text) });
    expect(response.status).toBe(404);
    expect(await count()).toBe(2);
  });

  it('when the disconnect body is malformed or huge, then it is a 4xx, never a 500', async () => {
    const agent = app.agent();
    await connect(agent);
    const page = await agent.get('/account');
    const huge = await agent
      .post(disconnectPath(page.text))
      .type('form')
      .send(`_csrf=${'x'.repeat(10000)}`);
    expect(huge.status).toBeGreaterThanOrEqual(400);
    expect(huge.status).toBeLessThan(500);
    const bad = await agent
      .post('/account/connections/not-an-id/disconnect')
      .type('form')
      .send({ _csrf: csrfFrom(page.text) });
    expect(bad.status).toBe(404);
    expect(await count()).toBe(1);
  });

  it('when the person signs out, then /account no longer shows their accounts', async () => {
    const agent = app.agent();
    await connect(agent, { account: odd });
    const page = await agent.get('/account');
    const out = await agent
      .post('/logout')
      .type('form')
      .send({ _csrf: csrfFrom(page.text) });
    expect(out.status).toBe(303);
    expect((await agent.get('/account')).text).not.toContain(odd.igUserId);
    expect(await count()).toBe(1);
  });
});
