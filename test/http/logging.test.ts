import { connect, ODD_ACCOUNT, startTestApp, type TestApp, TEST_SESSION_SECRET } from '../support/harness';
import { scrubLine } from '../../src/shared/logger';

describe('logs never carry secrets', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('when a whole connect flow runs at debug level, then no token, code, state, secret or cookie is in the log', async () => {
    const agent = app.agent();
    const start = await agent.get('/auth/instagram');
    const state = new URL(start.headers.location as string).searchParams.get('state') ?? '';
    const callback = await connect(agent, { account: ODD_ACCOUNT.igUserId });
    expect(callback.status).toBe(303);
    const [row] = await app.container.db.selectFrom('connections').selectAll().execute();
    if (!row) throw new Error('no connection');
    const token = app.container.cipher.open(
      { keyId: row.token_key_id, ciphertext: row.token_ciphertext },
      `connection:${row.id}`,
    );
    const cookies = ((callback.headers['set-cookie'] as unknown as string[]) ?? []).map(
      (c) => c.split(';')[0]?.split('=')[1] ?? '',
    );

    const log = app.logs.join('');
    expect(app.logs.length).toBeGreaterThan(5);
    expect(log).toContain('outbound request'); // the Graph calls were logged, by host and path
    const secrets = [
      token,
      state,
      app.container.config.providers.instagram!.appSecret,
      TEST_SESSION_SECRET,
      ...cookies,
    ];
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      expect(log).not.toContain(secret);
    }
    expect(log).not.toMatch(/code=/);
    expect(log).not.toMatch(/access_token=/);
  });

  it('when a secret slips into a message, then the line is scrubbed before it is written', () => {
    const leaked = 'IGAAabcdefghijklmnopqrstuvwxyz0123';
    app.container.logger.warn(
      `GET https://graph.instagram.com/access_token?grant_type=ig_exchange_token&client_secret=abc123&access_token=${leaked} failed; Authorization: Bearer ${leaked}`,
    );
    const log = app.logs.join('');
    expect(log).toContain('grant_type=ig_exchange_token');
    expect(log).not.toContain('abc123');
    expect(log).not.toContain(leaked);
  });

  it('when scrubLine sees a token-shaped string anywhere, then it is removed', () => {
    expect(scrubLine('{"msg":"token IGAAabcdefghijklmnopqrstuvwxyz in text"}')).not.toContain('IGAAabcdefghij');
  });

  it('when a log call is given a token field, then it is redacted', () => {
    app.container.logger.info({ accessToken: 'IGAA-secret-value', nested: { code: 'the-code' } }, 'structured');
    const log = app.logs.join('');
    expect(log).not.toContain('IGAA-secret-value');
    expect(log).not.toContain('the-code');
  });
});

describe('the request log', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  const lines = () =>
    app.logs
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  it('when a request is answered, then one line names its id, method, path without the query, status and time', async () => {
    const response = await app.agent().get('/healthz?probe=one').set('X-Request-Id', 'probe-0123456789');
    expect(response.headers['x-request-id']).toBe('probe-0123456789');
    const done = lines().filter((l) => l.msg === 'request completed');
    expect(done).toEqual([
      expect.objectContaining({
        level: 30,
        req: { id: 'probe-0123456789', method: 'GET', path: '/healthz' },
        res: { statusCode: 200 },
        responseTime: expect.any(Number),
      }),
    ]);
  });

  it('when a route logs about a request, then its line carries the same request id as the answer', async () => {
    const response = await app.agent().get('/no-such-page');
    expect(response.status).toBe(404);
    const id = response.headers['x-request-id'];
    const own = lines().find((l) => l.msg === 'request ended with an error page');
    expect(own).toMatchObject({ req: { id, method: 'GET', path: '/no-such-page' } });
    expect(lines().find((l) => l.msg === 'request completed')).toMatchObject({ req: { id }, res: { statusCode: 404 } });
  });
});
