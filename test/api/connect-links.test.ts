import { createHash } from 'node:crypto';
import { revokeApiKey } from '../../src/api/api-keys';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { type Agent, authorize, connect, pathOf, startTestApp, type TestApp } from '../support/harness';
import { apiKey, bearer } from './api-support';

const [sunny, jo] = SANDBOX_TEST_ACCOUNTS as [(typeof SANDBOX_TEST_ACCOUNTS)[0], (typeof SANDBOX_TEST_ACCOUNTS)[0]];

interface Link {
  id: string;
  url: string;
  expires_at: string;
}

/**
 * Connect links through HTTP: POST /api/v1/connect-sessions, then a browser (a supertest agent) opens the
 * link, consents on the sandbox and comes back through the one registered callback.
 */
describe('connect links', () => {
  let app: TestApp;
  let key: string;

  async function start(env: Record<string, string> = {}) {
    app = await startTestApp({ env });
    ({ key } = await apiKey(app));
  }
  afterEach(async () => {
    await app.close();
  });

  const post = (body: unknown, headers: Record<string, string> = bearer(key)) =>
    app
      .agent()
      .post('/api/v1/connect-sessions')
      .set(headers)
      .send(body as object);

  async function createLink(body: Record<string, unknown>): Promise<Link> {
    const response = await post(body);
    if (response.status !== 201) throw new Error(`create answered ${response.status}: ${response.text}`);
    return response.body as Link;
  }

  /** Opens the link, consents (or denies) on the sandbox, and returns the callback's answer, unfollowed. */
  async function runLink(agent: Agent, link: Link, options: { account?: string; decision?: 'allow' | 'deny' } = {}) {
    const callbackUrl = await authorize(agent, { ...options, startPath: pathOf(link.url) });
    return agent.get(pathOf(callbackUrl));
  }

  const connectionRows = () => app.container.db.selectFrom('connections').selectAll().execute();
  const linkRow = (id: string) =>
    app.container.db.selectFrom('connect_sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const getConnection = (id: string) => app.agent().get(`/api/v1/connections/${id}`).set(bearer(key));

  describe('making a link', () => {
    beforeEach(() => start({ RETURN_URL_ORIGINS: 'https://app.example.com' }));

    it('when a link is made, then it answers 201 with an id, a URL under PUBLIC_URL and its expiry', async () => {
      const response = await post({ end_user_id: 'user-42', return_url: 'https://app.example.com/done' });
      expect(response.status).toBe(201);
      expect(Object.keys(response.body).sort()).toEqual(['expires_at', 'id', 'url']);
      expect(response.body.id).toMatch(/^cs_[0-9a-f]{32}$/);
      expect(response.body.url).toMatch(new RegExp(`^${app.url}/connect/igcl_[A-Za-z0-9_-]{43}$`));
      // The default CONNECT_SESSION_TTL_SECONDS is 1800, counted on igconnect's clock.
      expect(response.body.expires_at).toBe(new Date(app.clock.now() + 1800_000).toISOString());
      const row = await linkRow(response.body.id);
      expect(row).toMatchObject({ end_user_id: 'user-42', provider: 'instagram', completed_at: null });
      expect(row.return_url).toBe('https://app.example.com/done');
    });

    it('when a link is made, then the database holds only the SHA-256 of its secret', async () => {
      const link = await createLink({ end_user_id: 'user-42' });
      const secret = link.url.split('/connect/')[1] ?? '';
      const row = await linkRow(link.id);
      expect(row.secret_hash).toBe(createHash('sha256').update(secret).digest('hex'));
      const everything = JSON.stringify(await app.container.db.selectFrom('connect_sessions').selectAll().execute());
      expect(everything).not.toContain(secret);
      expect(app.logs.join('\n')).not.toContain(secret);
    });

    it.each([
      ['a 255-character end user id', { end_user_id: 'u'.repeat(255) }],
      ['a return_url on PUBLIC_URL', (url: string) => ({ end_user_id: 'x', return_url: `${url}/back?a=1` })],
      ['a return_url on a listed origin', { end_user_id: 'x', return_url: 'https://app.example.com:443/a#b' }],
      ['the provider named', { end_user_id: 'x', provider: 'instagram' }],
      ['any characters in the end user id', { end_user_id: 'ユーザー 42 <&> "\'' }],
    ])('when the body has %s, then it is accepted', async (_name, body) => {
      const response = await post(typeof body === 'function' ? body(app.url) : body);
      expect(response.status).toBe(201);
    });

    it.each([
      ['no end_user_id', { return_url: 'https://app.example.com/' }, 'end_user_id'],
      ['an empty end_user_id', { end_user_id: '' }, 'end_user_id'],
      ['a 256-character end_user_id', { end_user_id: 'u'.repeat(256) }, 'end_user_id'],
      ['a numeric end_user_id', { end_user_id: 42 }, 'end_user_id'],
      ['a NUL in end_user_id', { end_user_id: 'a\u0000b' }, 'end_user_id'],
      ['a foreign return origin', { end_user_id: 'x', return_url: 'https://evil.example.net/done' }, 'return_url'],
      ['a look-alike origin', { end_user_id: 'x', return_url: 'https://app.example.com.evil.net/' }, 'return_url'],
      ['another port', { end_user_id: 'x', return_url: 'https://app.example.com:8443/' }, 'return_url'],
      ['plain http for an https origin', { end_user_id: 'x', return_url: 'http://app.example.com/' }, 'return_url'],
      ['a javascript: URL', { end_user_id: 'x', return_url: 'javascript:alert(1)' }, 'return_url'],
      ['a relative return_url', { end_user_id: 'x', return_url: '/done' }, 'return_url'],
      ['a protocol-relative return_url', { end_user_id: 'x', return_url: '//evil.example.net/' }, 'return_url'],
      ['credentials', { end_user_id: 'x', return_url: 'https://me:pw@app.example.com/' }, 'return_url'],
      [
        'a return_url over 2048 chars',
        { end_user_id: 'x', return_url: `https://app.example.com/${'a'.repeat(2030)}` },
        'return_url',
      ],
      [
        'a return_url carrying status',
        { end_user_id: 'x', return_url: 'https://app.example.com/?status=1' },
        'return_url',
      ],
      ['an unknown provider', { end_user_id: 'x', provider: 'facebook' }, 'provider'],
      ['an unknown field', { end_user_id: 'x', scopes: ['instagram_business_basic'] }, 'scopes'],
    ])('when the body has %s, then it is a 400 naming the field and nothing is stored', async (_name, body, field) => {
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('invalid_request');
      expect(response.body.error.message).toContain(field);
      expect(await app.container.db.selectFrom('connect_sessions').selectAll().execute()).toEqual([]);
    });

    it.each([
      ['not JSON', '{"end_user_id": '],
      ['a JSON array', '[]'],
      ['a JSON string', '"user-42"'],
    ])('when the body is %s, then it is a 400, never a 500', async (_name, raw) => {
      const response = await app
        .agent()
        .post('/api/v1/connect-sessions')
        .set(bearer(key))
        .set('Content-Type', 'application/json')
        .send(raw);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('invalid_request');
    });

    it('when the request has no key, a revoked key, or the key in the query, then it is 401 and nothing is made', async () => {
      const revoked = await apiKey(app, 'old');
      await revokeApiKey(app.container.db, revoked.id, app.clock.now());
      const body = { end_user_id: 'user-42' };
      expect((await post(body, {})).status).toBe(401);
      expect((await post(body, bearer(revoked.key))).status).toBe(401);
      const inQuery = await app.agent().post(`/api/v1/connect-sessions?api_key=${key}`).send(body);
      expect(inQuery.status).toBe(401);
      expect(inQuery.body.error.code).toBe('unauthorized');
      expect(await app.container.db.selectFrom('connect_sessions').selectAll().execute()).toEqual([]);
    });

    it('when the OpenAPI document is read, then it describes the operation and its body', async () => {
      const document = (await app.agent().get('/api/v1/openapi.json')).body;
      const operation = document.paths['/api/v1/connect-sessions'].post;
      const schema = operation.requestBody.content['application/json'].schema;
      expect(Object.keys(schema.properties).sort()).toEqual(['end_user_id', 'provider', 'return_url']);
      expect(schema.required).toEqual(['end_user_id']);
      expect(schema.additionalProperties).toBe(false);
      expect(schema.properties.provider.enum).toEqual(['instagram']);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['201', '400']));
    });
  });

  describe('opening a link', () => {
    beforeEach(() => start());

    it('when a link is followed through the sandbox, then the browser returns to return_url with the connection', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after?from=igconnect&x=a%20b` });
      const browser = app.agent();

      const opened = await browser.get(pathOf(link.url));
      expect(opened.status).toBe(302);
      expect(opened.headers.location).toMatch(/\/sandbox\/oauth\/authorize\?/);
      // The link's secret is in this page's address: it must not travel on as a Referer, nor be cached.
      expect(opened.headers['referrer-policy']).toBe('no-referrer');
      expect(opened.headers['cache-control']).toBe('no-store');
      // The state sent to Instagram is bound to this link in the database.
      const state = new URL(opened.headers.location as string).searchParams.get('state') ?? '';
      const transaction = await app.container.db
        .selectFrom('oauth_transactions')
        .selectAll()
        .where('state_hash', '=', createHash('sha256').update(state).digest('hex'))
        .executeTakeFirstOrThrow();
      expect(transaction.connect_session_id).toBe(link.id);

      const callback = await runLink(browser, link, { account: sunny.igUserId });
      expect(callback.status).toBe(303);
      expect(callback.headers['cache-control']).toBe('no-store');
      const back = new URL(callback.headers.location as string);
      const [connection] = await connectionRows();
      expect(connection).toBeDefined();
      // return_url's own query is kept as written, and the parameters are appended.
      expect(back.href).toBe(
        `${app.url}/after?from=igconnect&x=a%20b&connection_id=${connection?.id}&status=connected`,
      );

      const resource = await getConnection(connection?.id ?? '');
      expect(resource.body).toMatchObject({
        end_user_id: 'user-42',
        instagram_user_id: sunny.igUserId,
        status: 'active',
      });
      expect((await linkRow(link.id)).completed_at).not.toBeNull();
    });

    it('when a link is followed, then the browser is not signed in and the connection is on no /account page', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after` });
      const browser = app.agent();
      expect((await runLink(browser, link, { account: sunny.igUserId })).status).toBe(303);

      const account = await browser.get('/account');
      expect(account.status).toBe(200);
      expect(account.text).not.toContain(`data-instagram-user-id="${sunny.igUserId}"`);
      const sessions = await app.container.db.selectFrom('sessions').selectAll().execute();
      expect(sessions.some((s) => s.sess.includes('"passport"'))).toBe(false);
    });

    it('when a signed-in person follows a link, then it stays theirs, the link connection is not on their page', async () => {
      const browser = app.agent();
      expect((await connect(browser, { account: jo.igUserId })).status).toBe(303);
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after` });
      expect((await runLink(browser, link, { account: sunny.igUserId })).status).toBe(303);

      const account = await browser.get('/account');
      expect(account.text).toContain(`data-instagram-user-id="${jo.igUserId}"`);
      expect(account.text).not.toContain(`data-instagram-user-id="${sunny.igUserId}"`);

      const listed = (await app.agent().get('/api/v1/connections').set(bearer(key))).body.data as {
        instagram_user_id: string;
        end_user_id: string | null;
      }[];
      expect(listed.map((c) => [c.instagram_user_id, c.end_user_id]).sort()).toEqual(
        [
          [jo.igUserId, null],
          [sunny.igUserId, 'user-42'],
        ].sort(),
      );
      const rows = await connectionRows();
      expect(new Set(rows.map((r) => r.user_id)).size).toBe(2);
    });

    it('when a link has no return_url, then the browser sees a page it can close, once', async () => {
      const link = await createLink({ end_user_id: 'user-42' });
      const browser = app.agent();
      const callback = await runLink(browser, link, { account: sunny.igUserId });
      expect(callback.status).toBe(303);
      expect(callback.headers.location).toBe('/connect/result');

      const result = await browser.get('/connect/result');
      expect(result.status).toBe(200);
      expect(result.text).toContain('data-link-outcome="connected"');
      expect(result.text).toContain(`@${sunny.username} is connected.`);
      expect(result.text).toContain('You can close this page.');
      expect(result.text).not.toContain('href="/account"');

      const reload = await browser.get('/connect/result');
      expect(reload.status).toBe(200);
      expect(reload.text).toContain('data-link-outcome="closed"');
    });

    it('when the person cancels at Instagram, then status=cancelled comes back and the link still works', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after?x=1` });
      const browser = app.agent();

      const cancelled = await runLink(browser, link, { account: sunny.igUserId, decision: 'deny' });
      expect(cancelled.status).toBe(303);
      expect(cancelled.headers.location).toBe(`${app.url}/after?x=1&status=cancelled`);
      expect(await connectionRows()).toEqual([]);
      expect((await linkRow(link.id)).completed_at).toBeNull();

      const connected = await runLink(browser, link, { account: sunny.igUserId });
      const back = new URL(connected.headers.location as string);
      expect(back.searchParams.get('status')).toBe('connected');
      expect(back.searchParams.getAll('connection_id')).toEqual([(await connectionRows())[0]?.id]);
    });

    it('when a used link is opened again, then it answers 410 with a way back to return_url', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after?x=1` });
      expect((await runLink(app.agent(), link, { account: sunny.igUserId })).status).toBe(303);

      for (const browser of [app.agent(), app.agent()]) {
        const again = await browser.get(pathOf(link.url));
        expect(again.status).toBe(410);
        expect(again.headers['cache-control']).toBe('no-store');
        expect(again.text).toContain('This link was already used');
        expect(again.text).toContain(`href="${app.url}/after?x=1&amp;status=error&amp;error=link_used"`);
      }
      expect(await connectionRows()).toHaveLength(1);
    });

    it('when a link expires, then it answers 410 and starts nothing', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after` });
      app.clock.advance(1800_000);
      const transactionsBefore = (await app.container.db.selectFrom('oauth_transactions').selectAll().execute()).length;
      const opened = await app.agent().get(pathOf(link.url));
      expect(opened.status).toBe(410);
      expect(opened.text).toContain('This link has expired');
      expect(opened.text).toContain(`href="${app.url}/after?status=error&amp;error=link_expired"`);
      expect(await app.container.db.selectFrom('oauth_transactions').selectAll().execute()).toHaveLength(
        transactionsBefore,
      );
    });

    it('when the built-in sandbox shows its consent form, then its CSP lets the flow end on another origin', async () => {
      const link = await createLink({ end_user_id: 'user-42' });
      const browser = app.agent();
      const opened = await browser.get(pathOf(link.url));
      const consent = await browser.get(pathOf(opened.headers.location as string));
      expect(consent.status).toBe(200);
      // Browsers apply form-action to every redirect after the form (callback, then return_url).
      expect(consent.headers['content-security-policy']).toContain("script-src 'self'");
      expect(consent.headers['content-security-policy']).not.toContain('form-action');
      // igconnect's own pages keep it.
      expect((await browser.get('/')).headers['content-security-policy']).toContain("form-action 'self'");
    });

    it('when an unknown or malformed link is opened, then it answers 404', async () => {
      for (const path of [`/connect/igcl_${'A'.repeat(43)}`, '/connect/nothing', `/connect/igcl_${'A'.repeat(44)}`]) {
        const response = await app.agent().get(path);
        expect(response.status).toBe(404);
        expect(response.text).toContain('This link is not valid');
      }
    });

    it('when a browser opened a link that another browser used meanwhile, then its connect rolls back: 410', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after` });
      const first = app.agent();
      const second = app.agent();
      const firstCallback = await authorize(first, { account: sunny.igUserId, startPath: pathOf(link.url) });
      const secondCallback = await authorize(second, { account: jo.igUserId, startPath: pathOf(link.url) });

      expect((await first.get(pathOf(firstCallback))).headers.location).toMatch(/status=connected$/);
      const late = await second.get(pathOf(secondCallback));
      expect(late.status).toBe(303);
      expect(late.headers.location).toBe('/connect/result');
      const page = await second.get('/connect/result');
      expect(page.status).toBe(410);
      expect(page.text).toContain('This link was already used');
      expect(page.text).toContain('error=link_used');

      const rows = await connectionRows();
      expect(rows.map((r) => r.account_id)).toEqual([sunny.igUserId]);
      // The rolled-back connect left no user behind either.
      expect(await app.container.db.selectFrom('users').selectAll().execute()).toHaveLength(1);
    });

    it('when two browsers finish one link at the same moment, then exactly one connection results', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after` });
      const browsers = [app.agent(), app.agent(), app.agent()];
      const accounts = [sunny.igUserId, jo.igUserId, sunny.igUserId];
      const callbacks = await Promise.all(
        browsers.map((b, i) => authorize(b, { account: accounts[i], startPath: pathOf(link.url) })),
      );
      const answers = await Promise.all(browsers.map((b, i) => b.get(pathOf(callbacks[i] ?? ''))));
      const locations = answers.map((a) => a.headers.location as string);
      expect(locations.filter((l) => l.includes('status=connected'))).toHaveLength(1);
      expect(locations.filter((l) => l === '/connect/result')).toHaveLength(2);
      const rows = await connectionRows();
      expect(rows).toHaveLength(1);
      expect(rows[0]?.end_user_id).toBe('user-42');
    });

    it('when the same account connects under two end users, then there are two connections', async () => {
      const ids: string[] = [];
      for (const endUser of ['user-1', 'user-2']) {
        const link = await createLink({ end_user_id: endUser, return_url: `${app.url}/after` });
        const callback = await runLink(app.agent(), link, { account: sunny.igUserId });
        ids.push(new URL(callback.headers.location as string).searchParams.get('connection_id') ?? '');
      }
      expect(new Set(ids).size).toBe(2);
      expect((await getConnection(ids[0] ?? '')).body.end_user_id).toBe('user-1');
      expect((await getConnection(ids[1] ?? '')).body.end_user_id).toBe('user-2');
      const filtered = await app.agent().get('/api/v1/connections?end_user_id=user-2').set(bearer(key));
      expect(filtered.body.data.map((c: { id: string }) => c.id)).toEqual([ids[1]]);
    });

    it('when the same end user connects the same account again, then it is the same connection', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 2; i += 1) {
        const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after` });
        const callback = await runLink(app.agent(), link, { account: sunny.igUserId });
        ids.push(new URL(callback.headers.location as string).searchParams.get('connection_id') ?? '');
        app.clock.advance(60_000);
      }
      expect(ids[0]).toBe(ids[1]);
      expect(await connectionRows()).toHaveLength(1);
      expect(await app.container.db.selectFrom('users').selectAll().execute()).toHaveLength(1);
    });

    it('when a home-page connect follows a cancelled link flow in one browser, then it is not a link flow', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after` });
      const browser = app.agent();
      await runLink(browser, link, { account: sunny.igUserId, decision: 'deny' });

      const home = await connect(browser, { account: sunny.igUserId });
      expect(home.status).toBe(303);
      expect(home.headers.location).toBe('/account');
      const [row] = await connectionRows();
      expect(row?.end_user_id).toBeNull();
      expect((await getConnection(row?.id ?? '')).body.end_user_id).toBeNull();
      expect((await browser.get('/account')).text).toContain(`data-instagram-user-id="${sunny.igUserId}"`);
      expect((await linkRow(link.id)).completed_at).toBeNull();
    });

    it('when Instagram fails during the flow, then status=error with a code comes back and the link still works', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after` });
      app.sandbox.script('token', { status: 500, body: 'upstream exploded' });
      const failed = await runLink(app.agent(), link, { account: sunny.igUserId });
      expect(failed.headers.location).toBe(`${app.url}/after?status=error&error=provider_unavailable`);

      app.sandbox.script('token', app.sandbox.tokenError('Invalid platform app'));
      const misconfigured = await runLink(app.agent(), link, { account: sunny.igUserId });
      expect(misconfigured.headers.location).toBe(`${app.url}/after?status=error&error=misconfigured`);
      expect(await connectionRows()).toEqual([]);

      expect((await runLink(app.agent(), link, { account: sunny.igUserId })).headers.location).toMatch(
        /status=connected$/,
      );
    });

    it('when Instagram fails and there is no return_url, then the error page says so without a stack', async () => {
      const link = await createLink({ end_user_id: 'user-42' });
      app.sandbox.script('token', { status: 500, body: 'upstream exploded' });
      const browser = app.agent();
      expect((await runLink(browser, link, { account: sunny.igUserId })).headers.location).toBe('/connect/result');
      const page = await browser.get('/connect/result');
      expect(page.status).toBe(503);
      expect(page.text).toContain('data-link-error="provider_unavailable"');
      expect(page.text).not.toContain('upstream exploded');
      expect(page.text).not.toMatch(/\bat \S+ \(/);
    });

    it('when a flow runs through a link, then its secret appears in no log line', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after` });
      await runLink(app.agent(), link, { account: sunny.igUserId });
      await app.agent().get(pathOf(link.url));
      const secret = link.url.split('/connect/')[1] ?? '';
      expect(app.logs.join('\n')).toContain('/connect/');
      expect(app.logs.join('\n')).not.toContain(secret);
    });
  });

  describe('opening links many times', () => {
    beforeEach(() => start({ RATE_LIMIT_START: '2' }));

    it('when one address opens links more often than starts are allowed, then it gets 429 and nothing starts', async () => {
      const link = await createLink({ end_user_id: 'user-42' });
      const browser = app.agent();
      expect((await browser.get(pathOf(link.url))).status).toBe(302);
      expect((await browser.get('/auth/instagram')).status).toBe(302);
      const refused = await browser.get(pathOf(link.url));
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBeDefined();
      expect(await app.container.db.selectFrom('oauth_transactions').selectAll().execute()).toHaveLength(2);
    });
  });

  describe('a link that expires during the flow', () => {
    beforeEach(() => start({ CONNECT_SESSION_TTL_SECONDS: '60' }));

    it('when the callback comes after the link expired, then the connect rolls back and the page says expired', async () => {
      const link = await createLink({ end_user_id: 'user-42', return_url: `${app.url}/after` });
      const browser = app.agent();
      const callbackUrl = await authorize(browser, { account: sunny.igUserId, startPath: pathOf(link.url) });
      app.clock.advance(61_000);
      const callback = await browser.get(pathOf(callbackUrl));
      expect(callback.headers.location).toBe('/connect/result');
      const page = await browser.get('/connect/result');
      expect(page.status).toBe(410);
      expect(page.text).toContain('This link has expired');
      expect(page.text).toContain('error=link_expired');
      expect(await connectionRows()).toEqual([]);
    });
  });
});
