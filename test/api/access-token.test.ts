import { ODD_ACCOUNT, startTestApp, type TestApp } from '../support/harness';
import { row, seedConnection, storedToken } from '../support/factories';
import { DAY, HOUR } from '../../src/shared/clock';
import { apiKey, bearer } from './api-support';

/** GET /api/v1/connections/{id}/access-token through HTTP, against the sandbox and a real database. */
describe('API: the token, always valid', () => {
  let app: TestApp;
  let key: { id: string; key: string };

  beforeEach(async () => {
    app = await startTestApp({
      // Events are recorded (not delivered) when a receiver is configured: the renewal's must be there.
      env: {
        EVENTS_WEBHOOK_URL: 'http://127.0.0.1:9/igconnect-events',
        EVENTS_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
      },
    });
    key = await apiKey(app);
  });
  afterEach(async () => {
    await app.close();
  });

  const read = (id: string, query = '', headers: Record<string, string> = bearer(key.key)) =>
    app.agent().get(`/api/v1/connections/${id}/access-token${query}`).set(headers);
  const MAX = 5_097_600;
  // Numbers as numbers on both engines (PostgreSQL answers bigint columns as text).
  const tokenReads = async () =>
    (await app.container.db.selectFrom('token_reads').selectAll().execute()).map((r) => ({
      ...r,
      read_at: Number(r.read_at),
      renewed: Number(r.renewed),
    }));
  const eventTypes = async (id: string) =>
    (
      await app.container.db
        .selectFrom('events')
        .select('type')
        .where('connection_id', '=', id)
        .orderBy('seq')
        .execute()
    ).map((e) => e.type);

  it('when the token lives long enough, then it is answered as stored, no-store, recorded without the token', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    const token = storedToken(app, seeded);
    app.sandbox.resetCalls();
    const response = await read(seeded.id);
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toEqual({
      access_token: token,
      expires_at: new Date(Number(seeded.token_expires_at)).toISOString(),
      scopes: ['instagram_business_basic'],
      instagram_user_id: seeded.account_id,
    });
    expect(app.sandbox.calls.refresh).toBe(0);
    const reads = await tokenReads();
    expect(reads).toEqual([
      { id: expect.any(String), api_key_id: key.id, connection_id: seeded.id, read_at: app.clock.now(), renewed: 0 },
    ]);
    expect(JSON.stringify(reads)).not.toContain(token);
    expect(app.logs.join('\n')).not.toContain(token);
  });

  it('when the token would expire within min_ttl_seconds and is old enough, then it is renewed once first', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    const old = storedToken(app, seeded);
    app.sandbox.resetCalls();
    const response = await read(seeded.id, `?min_ttl_seconds=${MAX}`);
    expect(response.status).toBe(200);
    const renewed = await row(app, seeded.id);
    expect(response.body.access_token).not.toBe(old);
    expect(response.body.access_token).toBe(storedToken(app, renewed));
    expect(app.sandbox.tokenInfo(response.body.access_token)?.kind).toBe('long');
    expect(response.body.expires_at).toBe(new Date(Number(renewed.token_expires_at)).toISOString());
    expect(Number(renewed.token_expires_at) - app.clock.now()).toBeGreaterThan(MAX * 1000);
    expect(app.sandbox.calls.refresh).toBe(1);
    // Recorded by the keeper's own path: the outcome on the row and the event.
    expect(renewed.last_refresh_outcome).toBe('ok');
    expect(await eventTypes(seeded.id)).toEqual(['connection.created', 'connection.refreshed']);

    const again = await read(seeded.id, `?min_ttl_seconds=${MAX}`);
    expect(again.body.access_token).toBe(response.body.access_token);
    expect(app.sandbox.calls.refresh).toBe(1);
    expect((await tokenReads()).map((r) => r.renewed).sort()).toEqual([0, 1]);
    expect(app.logs.join('\n')).not.toContain(response.body.access_token);
  });

  it('when many callers ask at the same moment for a token due for renewal, then it is renewed once', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    app.sandbox.resetCalls();
    const answers = await Promise.all(Array.from({ length: 10 }, () => read(seeded.id, `?min_ttl_seconds=${MAX}`)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((a) => a.body.access_token)).size).toBe(1);
    expect(app.sandbox.calls.refresh).toBe(1);
    expect((await tokenReads()).filter((r) => r.renewed === 1)).toHaveLength(1);
  });

  it('when the token is younger than the provider renews, then the stored token is answered without a call', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * HOUR });
    app.sandbox.resetCalls();
    const response = await read(seeded.id, `?min_ttl_seconds=${MAX}`);
    expect(response.status).toBe(200);
    expect(response.body.access_token).toBe(storedToken(app, seeded));
    expect(app.sandbox.calls.refresh).toBe(0);
  });

  it('when the renewal fails for a passing reason, then the still-valid token is answered and not retried at once', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    app.sandbox.resetCalls();
    app.sandbox.script('refresh', { ...app.sandbox.graphError(2), status: 503 });
    const response = await read(seeded.id, `?min_ttl_seconds=${MAX}`);
    expect(response.status).toBe(200);
    expect(response.body.access_token).toBe(storedToken(app, seeded));
    expect(response.body.expires_at).toBe(new Date(Number(seeded.token_expires_at)).toISOString());
    expect(app.sandbox.calls.refresh).toBe(1);
    const after = await row(app, seeded.id);
    expect(after.status).toBe('active');
    expect(after.last_refresh_outcome).toBe('unavailable');
    // The keeper's backoff holds for readers too: the provider is not asked again on every read.
    expect((await read(seeded.id, `?min_ttl_seconds=${MAX}`)).body.access_token).toBe(storedToken(app, seeded));
    expect(app.sandbox.calls.refresh).toBe(1);
  });

  it('when the renewal finds the token revoked, then it is 409 needs_reconnect and the connection is marked', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    app.sandbox.revokeTokens(ODD_ACCOUNT.igUserId);
    const response = await read(seeded.id, `?min_ttl_seconds=${MAX}`);
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('needs_reconnect');
    const after = await row(app, seeded.id);
    expect([after.status, after.status_reason]).toEqual(['needs_reconnect', 'revoked']);
    expect(await eventTypes(seeded.id)).toEqual(['connection.created', 'connection.needs_reconnect']);
  });

  it('when the token has expired by our clock, then it is 409 and marked through the lifecycle, without a call', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 61 * DAY });
    app.sandbox.resetCalls();
    const response = await read(seeded.id);
    expect(response.status).toBe(409);
    expect(response.body.error).toEqual({ code: 'needs_reconnect', message: expect.stringContaining('expired') });
    const after = await row(app, seeded.id);
    expect([after.status, after.status_reason]).toEqual(['needs_reconnect', 'expired']);
    expect(await eventTypes(seeded.id)).toEqual(['connection.created', 'connection.needs_reconnect']);
    expect(app.sandbox.calls).toMatchObject({ refresh: 0, me: 0 });
    expect(await tokenReads()).toEqual([]);
  });

  it('when the connection needs reconnecting, then it is 409 needs_reconnect and nothing is recorded', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    await app.container.connections.markNeedsReconnect(seeded.id, 'revoked', null);
    app.sandbox.resetCalls();
    const response = await read(seeded.id, `?min_ttl_seconds=${MAX}`);
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('needs_reconnect');
    expect(app.sandbox.calls.refresh).toBe(0);
    expect(await tokenReads()).toEqual([]);
  });

  it.each([['-1'], [String(MAX + 1)], ['abc'], ['1.5'], ['1e3'], [''], ['99999999999999999999']])(
    'when min_ttl_seconds is %p, then it is 400 invalid_request naming it',
    async (value) => {
      const seeded = await seedConnection(app);
      const response = await read(seeded.id, `?min_ttl_seconds=${value}`);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('invalid_request');
      expect(response.body.error.message).toMatch(/^min_ttl_seconds: /);
    },
  );

  it('when min_ttl_seconds is at either end of its range, then the token is answered', async () => {
    const seeded = await seedConnection(app);
    for (const value of ['0', String(MAX)]) {
      expect((await read(seeded.id, `?min_ttl_seconds=${value}`)).status).toBe(200);
    }
    expect((await read(seeded.id, `?min_ttl_seconds=1&min_ttl_seconds=2`)).status).toBe(400);
    expect((await read(seeded.id, `?ttl=5`)).status).toBe(400);
  });

  it('when the key is missing or in the URL, or the connection unknown, then nothing is answered or recorded', async () => {
    const seeded = await seedConnection(app);
    expect((await read(seeded.id, '', {})).status).toBe(401);
    expect((await read(seeded.id, `?access_token=${key.key}`, {})).status).toBe(401);
    const unknown = await read('00000000-0000-4000-8000-000000000000');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'not_found']);
    expect((await read('not-an-id')).status).toBe(400);
    expect(await tokenReads()).toEqual([]);
  });

  it('when the OpenAPI document is read, then it describes the operation and its query', async () => {
    const doc = (await app.agent().get('/api/v1/openapi.json')).body;
    const op = doc.paths['/api/v1/connections/{id}/access-token'].get;
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(['id', 'min_ttl_seconds']);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '404', '409']));
  });
});
