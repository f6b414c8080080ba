import { revokeApiKey } from '../../src/api/api-keys';
import { connect, ODD_ACCOUNT, startTestApp, type TestApp } from '../support/harness';
import { seedConnection } from '../support/factories';
import { apiKey, bearer } from './api-support';

/** /api/v1: keys, the JSON error shape, and the connections endpoints, through HTTP. */
describe('API: keys and connections', () => {
  let app: TestApp;
  let key: string;

  beforeEach(async () => {
    app = await startTestApp();
    ({ key } = await apiKey(app));
  });
  afterEach(async () => {
    await app.close();
  });

  const get = (path: string, headers: Record<string, string> = bearer(key)) => app.agent().get(path).set(headers);

  describe('answers', () => {
    it.each([
      ['an answer', '/api/v1/connections', true],
      ['a refusal', '/api/v1/connections', false],
      ['an unknown path', '/api/v1/nothing-here', true],
      ['a path outside the version', '/api/v0/connections', true],
    ])(
      'when %s is sent, then it is JSON for programs: not stored, not sniffed, framed or loaded by anything',
      async (_name, path, withKey) => {
        const response = await get(path, withKey ? bearer(key) : {});
        expect(response.headers['content-type']).toMatch(/application\/json/);
        expect(response.headers['cache-control']).toBe('no-store');
        expect(response.headers['x-content-type-options']).toBe('nosniff');
        expect(response.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
        expect(response.headers['x-frame-options']).toBe('DENY');
        expect(response.headers['referrer-policy']).toBe('no-referrer');
        expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      },
    );
  });

  describe('authentication', () => {
    it.each([
      ['no Authorization header', {}],
      ['an unknown key', bearer(`igc_${'A'.repeat(43)}`)],
      ['a malformed header', { Authorization: 'Basic abc' }],
      ['the key without Bearer', { Authorization: 'igc_' }],
    ])('when a request has %s, then it is 401 JSON', async (_name, headers) => {
      const response = await get('/api/v1/connections', headers);
      expect(response.status).toBe(401);
      expect(response.headers['content-type']).toMatch(/application\/json/);
      expect(response.body.error.code).toBe('unauthorized');
      expect(typeof response.body.error.message).toBe('string');
    });

    it('when a revoked key is used, then it is 401', async () => {
      const revoked = await apiKey(app, 'old');
      expect((await get('/api/v1/connections', bearer(revoked.key))).status).toBe(200);
      await revokeApiKey(app.container.db, revoked.id, app.clock.now());
      expect((await get('/api/v1/connections', bearer(revoked.key))).status).toBe(401);
    });

    it('when the key is in the query string, then it is refused even with a valid header', async () => {
      for (const name of ['api_key', 'key', 'access_token']) {
        const response = await get(`/api/v1/connections?${name}=${key}`, {});
        expect(response.status).toBe(401);
        const withHeader = await get(`/api/v1/connections?${name}=${key}`);
        expect(withHeader.status).toBe(401);
      }
    });

    it('when a signed-in browser calls the API with its session cookie, then it is still 401', async () => {
      const agent = app.agent();
      await connect(agent, { account: ODD_ACCOUNT.igUserId });
      expect((await agent.get('/api/v1/connections')).status).toBe(401);
      expect((await agent.get('/account')).status).toBe(200);
    });

    it('when the OpenAPI document is asked for, then it needs no key and describes the endpoints', async () => {
      const response = await get('/api/v1/openapi.json', {});
      expect(response.status).toBe(200);
      expect(response.body.openapi).toBe('3.1.0');
      expect(Object.keys(response.body.paths)).toEqual(
        expect.arrayContaining(['/api/v1/connections', '/api/v1/connections/{id}']),
      );
      const list = response.body.paths['/api/v1/connections'].get;
      expect(list.parameters.map((p: { name: string }) => p.name)).toEqual(
        expect.arrayContaining(['end_user_id', 'status', 'limit', 'cursor']),
      );
    });

    it('when an unknown API path is asked for, then it is JSON 404, never a page', async () => {
      for (const path of ['/api/v1/nope', '/api/v2/connections', '/api']) {
        const response = await get(path);
        expect(response.status).toBe(404);
        expect(response.body.error.code).toBe('not_found');
      }
    });
  });

  describe('connections', () => {
    it('when connections exist, then the list shows them as the contract says, never a token', async () => {
      const agent = app.agent();
      await connect(agent, { account: ODD_ACCOUNT.igUserId });
      const response = await get('/api/v1/connections');
      expect(response.status).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.body.next_cursor).toBeNull();
      const [c] = response.body.data;
      expect(Object.keys(c).sort()).toEqual(
        [
          'id',
          'provider',
          'end_user_id',
          'instagram_user_id',
          'username',
          'name',
          'account_type',
          'profile_picture_url',
          'status',
          'status_reason',
          'scopes_granted',
          'scopes_declined',
          'token_expires_at',
          'token_refreshed_at',
          'last_checked_at',
          'created_at',
          'updated_at',
        ].sort(),
      );
      expect(c).toMatchObject({
        provider: 'instagram',
        end_user_id: null,
        instagram_user_id: ODD_ACCOUNT.igUserId,
        username: 'sunny.bakery',
        status: 'active',
        scopes_granted: ['instagram_business_basic'],
        scopes_declined: [],
      });
      expect(c.token_expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const [row] = await app.container.db.selectFrom('connections').selectAll().execute();
      const token = app.container.cipher.open(
        { keyId: row?.token_key_id ?? '', ciphertext: row?.token_ciphertext ?? '' },
        `connection:${row?.id}`,
      );
      expect(response.text).not.toContain(token);
      expect(response.text).not.toContain(row?.token_ciphertext ?? '');
      const one = await get(`/api/v1/connections/${c.id}`);
      expect(one.body).toEqual(c);
    });

    it('when there are more connections than the limit, then pages follow the cursor without overlap', async () => {
      for (let i = 0; i < 5; i += 1) await seedConnection(app);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
        const response = await get(`/api/v1/connections${query}`);
        expect(response.status).toBe(200);
        expect(response.body.data.length).toBeLessThanOrEqual(2);
        seen.push(...response.body.data.map((c: { id: string }) => c.id));
        cursor = response.body.next_cursor;
      } while (cursor);
      expect(seen).toHaveLength(5);
      expect(new Set(seen).size).toBe(5);
    });

    it('when filtered by status, then only those come back', async () => {
      const a = await seedConnection(app);
      await seedConnection(app);
      await app.container.db
        .updateTable('connections')
        .set({ status: 'needs_reconnect' })
        .where('id', '=', a.id)
        .execute();
      const response = await get('/api/v1/connections?status=needs_reconnect');
      expect(response.body.data.map((c: { id: string }) => c.id)).toEqual([a.id]);
    });

    it.each([
      ['?limit=0'],
      ['?limit=101'],
      ['?limit=ten'],
      ['?status=broken'],
      ['?cursor=abc'],
      ['?end_user_id='],
      [`?end_user_id=${'x'.repeat(256)}`],
      ['?unknown=1'],
      ['?limit=1&limit=2'],
    ])('when the list query is %s, then it is 400 invalid_request', async (query) => {
      const response = await get(`/api/v1/connections${query}`);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('invalid_request');
    });

    it('when a connection does not exist or the id is malformed, then it is 404 or 400', async () => {
      expect((await get('/api/v1/connections/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await get('/api/v1/connections/not-an-id')).status).toBe(400);
    });

    it('when a connection is deleted, then it answers 204, the row and token are gone, and a second delete is 404', async () => {
      const seeded = await seedConnection(app);
      const del = () => app.agent().delete(`/api/v1/connections/${seeded.id}`).set(bearer(key));
      const first = await del();
      expect(first.status).toBe(204);
      expect(await app.container.db.selectFrom('connections').selectAll().execute()).toHaveLength(0);
      const second = await del();
      expect(second.status).toBe(404);
      expect(second.body.error.code).toBe('not_found');
    });
  });
});
