import { startTestApp, type TestApp } from '../support/harness';
import { PROVIDERS } from '../support/providers';
import { connectionRows, csrfFrom, disconnectPaths } from './security-support';

/**
 * Disconnect (POST /account/connections/:id/disconnect): a forged or cross-site request deletes
 * nothing, another person's id is not found, malformed input is a 4xx.
 */
describe.each(PROVIDERS)('security: disconnect (%s)', (_name, p) => {
  let app: TestApp;
  const connect = p.connect;
  const [odd, other] = p.accounts;

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterEach(async () => {
    await app.close();
  });

  async function victim() {
    const agent = app.agent();
    await connect(agent, { account: odd });
    const page = await agent.get('/account');
    const path = disconnectPaths(page.text)[0] ?? '';
    return { agent, path, csrf: csrfFrom(page.text) };
  }

  const expectNothingDeleted = async () => expect(await connectionRows(app)).toHaveLength(1);

  it.each([
    ['no form token', () => ({}), {}],
    ['a wrong form token', () => ({ _csrf: 'x'.repeat(43) }), {}],
    ['an empty form token', () => ({ _csrf: '' }), {}],
    ['Sec-Fetch-Site: cross-site', (csrf: string) => ({ _csrf: csrf }), { 'Sec-Fetch-Site': 'cross-site' }],
    [
      'Sec-Fetch-Site: same-site (a sibling subdomain)',
      (csrf: string) => ({ _csrf: csrf }),
      { 'Sec-Fetch-Site': 'same-site' },
    ],
    ['a foreign Origin', (csrf: string) => ({ _csrf: csrf }), { Origin: 'https://evil.example' }],
    ['Origin: null (a sandboxed frame)', (csrf: string) => ({ _csrf: csrf }), { Origin: 'null' }],
  ] as const)(
    'when the disconnect post has %s, then it is a 403 and nothing is deleted',
    async (_name, body, headers) => {
      const { agent, path, csrf } = await victim();
      const response = await agent.post(path).type('form').set(headers).send(body(csrf));
      expect(response.status).toBe(403);
      expect(response.text).toContain('data-error-code="CSRF_FAILED"');
      await expectNothingDeleted();
    },
  );

  it("when an attacker sends their own valid form token with the victim's cookie, then it is refused", async () => {
    const { agent, path } = await victim();
    const attacker = app.agent();
    await connect(attacker, { account: other });
    const attackerToken = csrfFrom((await attacker.get('/account')).text);
    const response = await agent.post(path).type('form').send({ _csrf: attackerToken });
    expect(response.status).toBe(403);
    expect(await connectionRows(app)).toHaveLength(2);
  });

  it('when the form token is sent twice, then it is refused', async () => {
    const { agent, path, csrf } = await victim();
    const response = await agent.post(path).type('form').send(`_csrf=${csrf}&_csrf=${csrf}`);
    expect(response.status).toBe(403);
    await expectNothingDeleted();
  });

  it('when the token is sent as JSON (a fetch from another page), then it is refused', async () => {
    const { agent, path, csrf } = await victim();
    const response = await agent.post(path).type('json').send({ _csrf: csrf });
    expect(response.status).toBe(403);
    await expectNothingDeleted();
  });

  it('when disconnect is requested with GET (a link or an image), then nothing is deleted', async () => {
    const { agent, path } = await victim();
    const response = await agent.get(path);
    expect(response.status).toBe(404);
    await expectNothingDeleted();
  });

  it("when a person posts someone else's connection id with their own valid token, then it is not found", async () => {
    const owner = await victim();
    const stranger = app.agent();
    await connect(stranger, { account: other });
    const token = csrfFrom((await stranger.get('/account')).text);
    const response = await stranger.post(owner.path).type('form').send({ _csrf: token });
    expect(response.status).toBe(404);
    expect(await connectionRows(app)).toHaveLength(2);
  });

  it.each([
    ['a path-traversal id', '/account/connections/..%2F..%2Fadmin/disconnect'],
    ['an SQL-looking id', "/account/connections/1'%20OR%20'1'%3D'1/disconnect"],
    ['an overlong id', `/account/connections/${'a'.repeat(4000)}/disconnect`],
  ])('when the id is %s, then it is a 4xx and nothing is deleted', async (_name, path) => {
    const { agent, csrf } = await victim();
    const response = await agent.post(path).type('form').send({ _csrf: csrf });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    await expectNothingDeleted();
  });

  it('when the form body is oversized, then it is a 4xx, never a 500, and nothing is deleted', async () => {
    const { agent, path } = await victim();
    const response = await agent
      .post(path)
      .type('form')
      .send(`_csrf=${'x'.repeat(10000)}`);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    await expectNothingDeleted();
  });

  it('when a signed-out browser posts a disconnect, then it is refused', async () => {
    const { path } = await victim();
    const stranger = app.agent();
    await stranger.get(p.startPath); // a session, but nobody signed in
    const response = await stranger.post(path).type('form').send({ _csrf: 'anything' });
    expect(response.status).toBe(403);
    await expectNothingDeleted();
  });

  it('when the owner disconnects properly, then the row and its sealed token are gone from the database', async () => {
    const { agent, path, csrf } = await victim();
    const [row] = await connectionRows(app);
    const response = await agent
      .post(path)
      .type('form')
      .set({ Origin: app.url, 'Sec-Fetch-Site': 'same-origin' })
      .send({ _csrf: csrf });
    expect(response.status).toBe(303);
    expect(response.headers.location).toBe('/account');
    const left = await app.container.db
      .selectFrom('connections')
      .select('id')
      .where('token_ciphertext', '=', row?.token_ciphertext ?? '')
      .execute();
    expect(left).toHaveLength(0);
  });
});
