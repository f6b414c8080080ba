import { hashState } from '../../src/auth/transaction-store';
import { startTestApp, type TestApp } from '../support/harness';
import { PROVIDERS } from '../support/providers';
import { setCookies } from './security-support';

/** Hostile input on each start route (/auth/<provider>): the authorization URL is built from server values only. */
describe.each(PROVIDERS)('security: start route (%s)', (_name, p) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterAll(async () => {
    await app.close();
  });

  const start = async (query = '', headers: Record<string, string> = {}) => {
    const response = await app.agent().get(`${p.startPath}${query}`).set(headers);
    expect(response.status).toBe(302);
    return { response, location: new URL(response.headers.location as string) };
  };

  it.each([
    ['client_id', 'client_id=evil-app', 'client_id', () => p.clientId(app)],
    [
      'redirect_uri',
      'redirect_uri=https%3A%2F%2Fevil.example%2Fcb',
      'redirect_uri',
      () => `${app.url}${p.callbackPath}`,
    ],
    ['scope', 'scope=instagram_business_manage_messages', 'scope', () => p.defaultScope],
    ['response_type', 'response_type=token', 'response_type', () => 'code'],
  ])(
    'when the attacker adds %s to the start URL, then the authorization URL keeps the server value',
    async (_name, query, param, expected) => {
      const { location } = await start(`?${query}`);
      expect(location.searchParams.getAll(param)).toEqual([expected()]);
    },
  );

  it('when the attacker supplies a state, then a fresh server state is sent instead', async () => {
    const { location } = await start('?state=attacker-chosen');
    expect(location.searchParams.getAll('state')).toHaveLength(1);
    expect(location.searchParams.get('state')).not.toBe('attacker-chosen');
  });

  it('when the Host header names another site, then the redirect and redirect_uri stay on PUBLIC_URL', async () => {
    const { location } = await start('', { Host: 'evil.example', 'X-Forwarded-Host': 'evil.example' });
    expect(location.origin).toBe(app.url);
    expect(location.searchParams.get('redirect_uri')).toBe(`${app.url}${p.callbackPath}`);
  });

  it('when two attempts start, then each gets its own unpredictable state of at least 256 bits', async () => {
    const states = await Promise.all([start(), start(), start()]).then((all) =>
      all.map(({ location }) => location.searchParams.get('state') ?? ''),
    );
    expect(new Set(states).size).toBe(3);
    for (const state of states) expect(Buffer.from(state, 'base64url').length).toBeGreaterThanOrEqual(32);
  });

  it('when an attempt starts, then the database holds only the hash of the state, never the state', async () => {
    const { location } = await start();
    const state = location.searchParams.get('state') ?? '';
    const rows = await app.container.db.selectFrom('oauth_transactions').selectAll().execute();
    expect(rows.some((r) => r.state_hash === hashState(state))).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(state);
    const sessions = await app.container.db.selectFrom('sessions').selectAll().execute();
    expect(JSON.stringify(sessions)).not.toContain(state);
  });

  it('when an attempt starts, then no cookie carries the state and no plain PKCE method is offered', async () => {
    const { response, location } = await start();
    const state = location.searchParams.get('state') ?? '';
    expect(setCookies(response).join(';')).not.toContain(state);
    expect(location.searchParams.get('code_challenge_method')).not.toBe('plain');
  });

  it('when the start route answers, then it is not cacheable and sends no Referer onward', async () => {
    const { response } = await start();
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
  });

  it('when the start route is posted to, then it is not found and no attempt is recorded', async () => {
    const before = await app.container.db.selectFrom('oauth_transactions').selectAll().execute();
    const response = await app.agent().post(p.startPath).type('form').send({ scope: 'x' });
    expect(response.status).toBe(404);
    const after = await app.container.db.selectFrom('oauth_transactions').selectAll().execute();
    expect(after).toHaveLength(before.length);
  });

  it('when the start URL carries a repeated or bracketed parameter, then it still answers 302 with server values', async () => {
    const { location } = await start('?scope=a&scope=b&client_id[x]=1&redirect_uri[]=x');
    expect(location.searchParams.get('scope')).toBe(p.defaultScope);
    expect(location.searchParams.get('client_id')).toBe(p.clientId(app));
  });
});
