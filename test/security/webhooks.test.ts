import { createHmac } from 'node:crypto';
import { SANDBOX_FACEBOOK_APP_SECRET } from '../../src/providers/facebook.config';
import { signRequest } from '../../src/sandbox/sandbox';
import { DAY, HOUR } from '../../src/shared/clock';
import { startTestApp, type TestApp } from '../support/harness';
import { seedConnection } from '../support/factories';
import { PROVIDERS } from '../support/providers';

/**
 * Meta's signed callbacks, black-box through HTTP, for each way in: its own paths, signed with its own
 * app secret only. Meta names the person by their app-scoped id; Instagram Login's callbacks may name the
 * professional account instead, which Facebook's never do (theirs carry the Facebook user id).
 */
describe.each(PROVIDERS)('security: webhooks (Meta deauthorize and data-deletion callbacks, %s)', (_name, p) => {
  let app: TestApp;
  let secret: string;
  const DEAUTHORIZE = p.webhookPath('deauthorize');
  const DELETION = p.webhookPath('data-deletion');
  const connect = p.connect;
  const [odd, unrelated] = [p.accounts[0], p.accounts[2]];
  // The person's id, and the last id Meta may use for them (Instagram Login: the professional account's).
  const PERSON = p.callbackUserIds[0]![1];
  const ANY_ID = p.callbackUserIds[p.callbackUserIds.length - 1]![1];

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
    secret = p.callbackSecret(app);
  });
  afterEach(async () => {
    await app.close();
  });

  const seconds = () => Math.floor(app.clock.now() / 1000);
  const signed = (payload: Record<string, unknown>, key = secret) =>
    signRequest({ algorithm: 'HMAC-SHA256', issued_at: seconds(), ...payload }, key);
  const post = (path: string, body: string) => app.agent().post(path).type('form').set('Accept', '*/*').send(body);
  const form = (signedRequest: string) => `signed_request=${encodeURIComponent(signedRequest)}`;
  const count = async () => (await app.container.db.selectFrom('connections').selectAll().execute()).length;

  describe('deauthorize', () => {
    it.each(p.callbackUserIds)(
      'when Meta sends a valid request with the %s, then the connection and its token are deleted',
      async (_n, id) => {
        await connect(app.agent(), { account: odd });
        app.clock.advance(HOUR);
        const response = await post(DEAUTHORIZE, form(signed({ user_id: id })));
        expect(response.status).toBe(200);
        expect(response.body).toEqual({ status: 'ok' });
        expect(await count()).toBe(0);
        expect(response.headers['set-cookie']).toBeUndefined();
      },
    );

    it('when the user id is a bare 17-digit JSON number, then it is matched exactly', async () => {
      await connect(app.agent(), { account: odd });
      const payload = Buffer.from(`{"algorithm":"HMAC-SHA256","issued_at":${seconds()},"user_id":${ANY_ID}}`).toString(
        'base64url',
      );
      const signature = createHmac('sha256', secret).update(payload).digest('base64url');
      const response = await post(DEAUTHORIZE, form(`${signature}.${payload}`));
      expect(response.status).toBe(200);
      expect(await count()).toBe(0);
    });

    it('when the same request is replayed after the person connected again, then the new connection stays', async () => {
      await connect(app.agent(), { account: odd });
      const request = signed({ user_id: PERSON });
      expect((await post(DEAUTHORIZE, form(request))).status).toBe(200);
      expect(await count()).toBe(0);
      app.clock.advance(10 * 60_000);
      await connect(app.agent(), { account: odd });
      const replay = await post(DEAUTHORIZE, form(request));
      expect(replay.status).toBe(200);
      expect(await count()).toBe(1);
    });

    it('when the user id is unknown, then it answers 200 and nothing changes', async () => {
      await connect(app.agent(), { account: odd });
      const response = await post(DEAUTHORIZE, form(signed({ user_id: '17841400000000001' })));
      expect(response.status).toBe(200);
      expect(await count()).toBe(1);
    });

    const rejected: [string, () => string, number][] = [
      ['signed with another secret (forged)', () => form(signed({ user_id: ANY_ID }, 'not-the-app-secret')), 403],
      // Each way in's callbacks are signed with its own app secret only.
      [
        "signed with the other way in's app secret",
        () =>
          form(
            signed(
              { user_id: ANY_ID },
              p.id === 'instagram' ? SANDBOX_FACEBOOK_APP_SECRET : app.container.config.providers.instagram!.appSecret,
            ),
          ),
        403,
      ],
      [
        'a truncated signature',
        () => {
          const [sig, payload] = signed({ user_id: ANY_ID }).split('.');
          return form(`${sig?.slice(0, 20)}.${payload}`);
        },
        403,
      ],
      ['algorithm HMAC-SHA1', () => form(signed({ user_id: ANY_ID, algorithm: 'HMAC-SHA1' })), 403],
      ['algorithm none', () => form(signed({ user_id: ANY_ID, algorithm: 'none' })), 403],
      ['a stale issued_at (2 hours old)', () => form(signed({ user_id: ANY_ID, issued_at: seconds() - 7200 })), 403],
      ['an issued_at in the future', () => form(signed({ user_id: ANY_ID, issued_at: seconds() + 3600 })), 403],
      ['no signed_request', () => 'other=1', 400],
      ['signed_request twice', () => `${form(signed({ user_id: ANY_ID }))}&${form('a.b')}`, 400],
      ['three parts', () => form(`${signed({ user_id: ANY_ID })}.extra`), 400],
      ['an empty signature part', () => form(`.${signed({ user_id: ANY_ID }).split('.')[1]}`), 400],
      ['characters outside base64url', () => form('abc$%.def'), 400],
      ['a payload that is not JSON', () => form(rawSigned('not json')), 400],
      ['a JSON array payload', () => form(rawSigned('[1,2]')), 400],
      ['no user_id', () => form(signed({})), 400],
      ['a user_id that is not an id', () => form(signed({ user_id: 'me; drop table' })), 400],
      ['an oversized body', () => form('a'.repeat(20_000)), 413],
    ];

    function rawSigned(text: string): string {
      const payload = Buffer.from(text).toString('base64url');
      return `${createHmac('sha256', secret).update(payload).digest('base64url')}.${payload}`;
    }

    it.each(rejected)(
      'when the request has %s, then it is refused and nothing is deleted',
      async (_name, body, status) => {
        await connect(app.agent(), { account: odd });
        const response = await post(DEAUTHORIZE, body());
        expect(response.status).toBe(status);
        expect(response.headers['content-type']).toMatch(/json/);
        expect(response.headers['set-cookie']).toBeUndefined();
        expect(JSON.stringify(response.body)).not.toMatch(/\bat \S+:\d+/);
        expect(await count()).toBe(1);
      },
    );

    it('when a client floods the webhook, then it is rate limited with JSON and Retry-After, and nothing is deleted', async () => {
      await app.close();
      app = await startTestApp({ env: { ...p.env, RATE_LIMIT_WEBHOOKS: '3' } });
      secret = p.callbackSecret(app);
      await connect(app.agent(), { account: odd });
      const forged = form(signed({ user_id: '17841400000000001' }));
      const statuses = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await post(DEAUTHORIZE, forged)).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const limited = await post(DEAUTHORIZE, form(signed({ user_id: ANY_ID })));
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toBeDefined();
      expect(limited.headers['content-type']).toMatch(/json/);
      expect(await count()).toBe(1);
    });

    it('when the sandbox test account removes the app, then the app receives the callback and drops the connection', async () => {
      const agent = app.agent();
      await connect(agent, { account: odd });
      app.clock.advance(1000);
      const removed = await agent.post(p.sandboxActionPath(odd, 'remove')).type('form').send('');
      expect(removed.status).toBe(303);
      expect(await count()).toBe(0);
      expect((await agent.get('/account')).text).not.toContain(odd.igUserId);
    });
  });

  describe('data deletion', () => {
    it('when Meta asks to delete a user, then all their data goes and the answer points at a status page under PUBLIC_URL', async () => {
      const agent = app.agent();
      await connect(agent, { account: odd });
      const response = await app
        .agent()
        .post(DELETION)
        .type('form')
        .set('Host', 'evil.example')
        .send(form(signed({ user_id: PERSON })));
      expect(response.status).toBe(200);
      const { url, confirmation_code: code } = response.body as { url: string; confirmation_code: string };
      expect(Buffer.from(code, 'base64url').length).toBeGreaterThanOrEqual(16);
      expect(url).toBe(`${app.url}/data-deletion/${code}`);
      expect(await count()).toBe(0);
      expect(await app.container.db.selectFrom('users').selectAll().execute()).toHaveLength(0);

      const status = await app.agent().get(new URL(url).pathname);
      expect(status.status).toBe(200);
      expect(status.text).toContain(code);
      expect(status.text).toContain('data-deletion-status="completed"');
      expect(status.text).not.toContain(odd.igUserId);
      expect(status.text).not.toContain('sunny.bakery');
      // The person's browser session no longer shows anything.
      expect((await agent.get('/account')).text).not.toContain(odd.igUserId);
    });

    it('when the same request is replayed, then the first answer is returned and nothing else happens', async () => {
      await connect(app.agent(), { account: odd });
      const request = form(signed({ user_id: ANY_ID }));
      const first = await post(DELETION, request);
      const second = await post(DELETION, request);
      expect(second.status).toBe(200);
      expect(second.body).toEqual(first.body);
      expect(await app.container.db.selectFrom('deletion_requests').selectAll().execute()).toHaveLength(1);
    });

    it('when the user is unknown, then it answers 200 with a status page and deletes nothing', async () => {
      await connect(app.agent(), { account: odd });
      const response = await post(DELETION, form(signed({ user_id: '17841400000000003' })));
      expect(response.status).toBe(200);
      expect(await count()).toBe(1);
      expect((await app.agent().get(new URL(response.body.url as string).pathname)).status).toBe(200);
    });

    it('when the signature is forged, then it is refused and nothing is deleted', async () => {
      await connect(app.agent(), { account: odd });
      const response = await post(DELETION, form(signed({ user_id: ANY_ID }, 'wrong')));
      expect(response.status).toBe(403);
      expect(await count()).toBe(1);
    });

    it('when another user shares nothing with the deleted one, then their data stays', async () => {
      await connect(app.agent(), { account: odd });
      // Instagram Login: a seeded connection of another account; Facebook: another person's, connected.
      if (p.id === 'instagram') await seedConnection(app);
      else await connect(app.agent(), { account: unrelated });
      await post(DELETION, form(signed({ user_id: ANY_ID })));
      expect(await count()).toBe(1);
    });

    it('when a status page code is unknown or malformed, then it is a 404', async () => {
      expect((await app.agent().get('/data-deletion/AAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
      expect((await app.agent().get('/data-deletion/%3Cscript%3E')).status).toBe(404);
    });

    it('when the sandbox test account requests data deletion, then the app deletes its data', async () => {
      const agent = app.agent();
      await connect(agent, { account: odd });
      app.clock.advance(DAY);
      const response = await agent.post(p.sandboxActionPath(odd, 'delete-data')).type('form').send('');
      expect(response.status).toBe(303);
      expect(await count()).toBe(0);
      expect(await app.container.db.selectFrom('deletion_requests').selectAll().execute()).toHaveLength(1);
    });
  });
});
