import { TRANSACTION_TTL_MS } from '../../src/auth/transaction-store';
import { finishCallback, pathOf, startTestApp, type TestApp } from '../support/harness';
import { FACEBOOK, INSTAGRAM, PROVIDERS } from '../support/providers';
import { connectionRows, signedInPage, storedTokens } from './security-support';

/**
 * Hostile input on each callback (/auth/<provider>/callback). The safe outcome is always: a 4xx page
 * (never a 500), no code exchange at the provider, nothing stored, and nothing from the query reflected.
 */
describe.each(PROVIDERS)('security: callback (%s)', (_name, p) => {
  let app: TestApp;
  const authorize = p.authorize;
  const connect = p.connect;
  const codeExchanges = () => p.calls(app, 'code');

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterEach(async () => {
    await app.close();
  });

  const expectRefused = async (response: { status: number; text: string }, code = 'STATE_INVALID') => {
    expect(response.status).toBe(400);
    expect(response.text).toContain(`data-error-code="${code}"`);
    expect(codeExchanges()).toBe(0);
    expect(await connectionRows(app)).toHaveLength(0);
  };

  it('when the callback has no state, then it is refused before the code is spent', async () => {
    const agent = app.agent();
    const url = new URL(await authorize(agent));
    url.searchParams.delete('state');
    await expectRefused(await agent.get(pathOf(url.href)));
  });

  it('when the callback has a forged state, then it is refused and no token is requested', async () => {
    const agent = app.agent();
    const url = new URL(await authorize(agent));
    url.searchParams.set('state', 'A'.repeat(43));
    await expectRefused(await agent.get(pathOf(url.href)));
  });

  it("when an attacker replays a victim's callback in their own browser, then it fails and the victim can still finish", async () => {
    const victim = app.agent();
    const attacker = app.agent();
    const victimCallback = await authorize(victim);
    await attacker.get(p.startPath);
    await expectRefused(await attacker.get(pathOf(victimCallback)));
    expect((await victim.get(pathOf(victimCallback))).status).toBe(303);
  });

  it('when a callback arrives with no session cookie at all, then it is refused', async () => {
    const url = await authorize(app.agent());
    await expectRefused(await app.agent().get(pathOf(url)));
  });

  it('when the state is older than its 30-minute lifetime, then it is refused and no token is requested', async () => {
    const agent = app.agent();
    const url = await authorize(agent);
    app.clock.advance(TRANSACTION_TTL_MS + 1);
    await expectRefused(await agent.get(pathOf(url)));
  });

  it('when the same callback is replayed, then the replay is refused and the code is exchanged once', async () => {
    const agent = app.agent();
    const url = await authorize(agent);
    expect((await agent.get(pathOf(url))).status).toBe(303);
    const replay = await agent.get(pathOf(url));
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('data-error-code="STATE_INVALID"');
    expect(codeExchanges()).toBe(1);
  });

  it('when the exchange failed once, then retrying the same callback does not spend the code again', async () => {
    const agent = app.agent();
    const url = await authorize(agent);
    p.script(app, p.steps.code, { status: 500, body: 'upstream exploded' });
    expect((await finishCallback(agent, url)).status).toBe(503);
    const retry = await agent.get(pathOf(url));
    expect(retry.status).toBe(400);
    expect(codeExchanges()).toBe(1);
    expect(await connectionRows(app)).toHaveLength(0);
  });

  it('when an error arrives with a forged state, then the state failure wins and the description is not reflected', async () => {
    const agent = app.agent();
    await agent.get(p.startPath);
    const response = await agent.get(
      `${p.callbackPath}?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=forged`,
    );
    await expectRefused(response);
    expect(response.text).not.toContain('<script>alert(1)');
  });

  it('when the person cancels (valid state, access_denied), then a cancel page is shown and nothing is stored', async () => {
    const response = await connect(app.agent(), { decision: 'deny' });
    expect(response.status).toBe(200);
    expect(response.text).toContain('data-error-code="CONNECT_CANCELLED"');
    expect(codeExchanges()).toBe(0);
    expect(await connectionRows(app)).toHaveLength(0);
  });

  it('when a valid state comes with another error and a script in its description, then a generic page shows none of it', async () => {
    const agent = app.agent();
    const url = new URL(await authorize(agent));
    url.searchParams.delete('code');
    url.searchParams.set('error', 'server_error');
    url.searchParams.set('error_description', '<img src=x onerror=alert(1)>');
    const response = await finishCallback(agent, url.href);
    expect(response.status).toBe(502);
    expect(response.text).toContain('data-error-code="PROVIDER_REJECTED"');
    expect(response.text).not.toContain('onerror');
    expect(codeExchanges()).toBe(0);
  });

  it.each([
    ['a repeated code', (u: URL) => u.searchParams.append('code', 'second')],
    ['a repeated state', (u: URL) => u.searchParams.append('state', 'second')],
    [
      'a repeated error',
      (u: URL) => {
        u.searchParams.append('error', 'x');
        u.searchParams.append('error', 'y');
      },
    ],
    ['an oversized code', (u: URL) => u.searchParams.set('code', 'a'.repeat(5000))],
    ['an oversized state', (u: URL) => u.searchParams.set('state', 's'.repeat(600))],
    ['an empty code', (u: URL) => u.searchParams.set('code', '')],
    [
      'a bracketed code',
      (u: URL) => {
        const code = u.searchParams.get('code') ?? '';
        u.searchParams.delete('code');
        u.searchParams.set('code[x]', code);
      },
    ],
    [
      'a bracketed state',
      (u: URL) => {
        const state = u.searchParams.get('state') ?? '';
        u.searchParams.delete('state');
        u.searchParams.set('state[]', state);
      },
    ],
    ['an oversized error_description', (u: URL) => u.searchParams.set('error_description', 'd'.repeat(2000))],
  ])('when the callback has %s, then it is a 400 and no token is requested', async (_name, tamper) => {
    const agent = app.agent();
    const url = new URL(await authorize(agent));
    tamper(url);
    const response = await agent.get(pathOf(url.href));
    expect(response.status).toBe(400);
    expect(codeExchanges()).toBe(0);
    expect(await connectionRows(app)).toHaveLength(0);
  });

  it('when the query string is malformed percent-encoding, then it is a 4xx, never a 500', async () => {
    const agent = app.agent();
    await agent.get(p.startPath);
    const response = await agent.get(`${p.callbackPath}?state=%E0%A4%A&code=%zz`);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(codeExchanges()).toBe(0);
  });

  it('when an implicit-flow access_token is injected into the callback, then it is ignored and never stored', async () => {
    const injected = 'IGAAinjectedbyattacker0123456789';
    const agent = app.agent();
    const url = new URL(await authorize(agent));
    url.searchParams.set('access_token', injected);
    url.searchParams.set('token', injected);
    expect((await agent.get(pathOf(url.href))).status).toBe(303);
    const tokens = await storedTokens(app);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).not.toBe(injected);
    p.expectKeptToken(app, tokens[0] ?? '');
  });

  it('when the callback is posted instead of followed, then it is not found and nothing is exchanged', async () => {
    const agent = app.agent();
    const url = new URL(await authorize(agent));
    const response = await agent.post(p.callbackPath).type('form').send(Object.fromEntries(url.searchParams));
    expect(response.status).toBe(404);
    expect(codeExchanges()).toBe(0);
  });

  it('when the callback succeeds, then it redirects to a clean URL with no code or state, uncached', async () => {
    const response = await connect(app.agent());
    expect(response.status).toBe(303);
    expect(response.headers.location).toBe('/account');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
  });

  it('when six callbacks with one state arrive in parallel, then exactly one exchanges the code', async () => {
    const agent = app.agent();
    const url = await authorize(agent);
    const responses = await Promise.all(Array.from({ length: 6 }, () => agent.get(pathOf(url))));
    expect(responses.map((r) => r.status).sort()).toEqual([303, 400, 400, 400, 400, 400]);
    expect(codeExchanges()).toBe(1);
    expect(await connectionRows(app)).toHaveLength(1);
  });

  it('when three people connect different accounts at the same moment, then each sees only their own account', async () => {
    const accounts = p.accounts;
    const people = accounts.map((account) => ({ account, agent: app.agent() }));
    const callbacks = await Promise.all(people.map((person) => authorize(person.agent, { account: person.account })));
    const results = await Promise.all(people.map((person, i) => person.agent.get(pathOf(callbacks[i] ?? ''))));
    expect(results.map((r) => r.status)).toEqual(people.map(() => 303));
    const rows = await connectionRows(app);
    expect(new Set(rows.map((r) => r.user_id)).size).toBe(people.length);
    for (const person of people) {
      const page = await signedInPage(person.agent);
      for (const other of accounts) {
        const shown = page.includes(`data-instagram-user-id="${other.igUserId}"`);
        expect(shown).toBe(other.igUserId === person.account.igUserId);
      }
    }
  });

  it("when people's callbacks are swapped while all connect at once, then every swapped callback fails and nothing is mixed up", async () => {
    const accounts = p.accounts;
    const people = accounts.map((account) => ({ account, agent: app.agent() }));
    const callbacks = await Promise.all(people.map((person) => authorize(person.agent, { account: person.account })));
    // Each person's browser receives the next person's callback URL.
    const swapped = await Promise.all(
      people.map((person, i) => person.agent.get(pathOf(callbacks[(i + 1) % callbacks.length] ?? ''))),
    );
    expect(swapped.map((r) => r.status)).toEqual(people.map(() => 400));
    expect(codeExchanges()).toBe(0);
    expect(await connectionRows(app)).toHaveLength(0);
  });
});

/** A state belongs to the provider it was minted for: each callback refuses the other's (both configured). */
describe.each(PROVIDERS)('security: a %s callback brought to the other way in', (_name, p) => {
  let app: TestApp;
  const other = p.id === 'instagram' ? FACEBOOK : INSTAGRAM;

  beforeEach(async () => {
    app = await startTestApp({ env: FACEBOOK.env });
  });
  afterEach(async () => {
    await app.close();
  });

  it("when its code and state arrive at the other provider's callback, then it is refused, no code is exchanged, and the flow still finishes where it belongs", async () => {
    const agent = app.agent();
    const url = new URL(await p.authorize(agent));
    const misrouted = await agent.get(`${other.callbackPath}${url.search}`);
    expect(misrouted.status).toBe(400);
    expect(misrouted.text).toContain('data-error-code="STATE_INVALID"');
    expect(p.calls(app, 'code')).toBe(0);
    expect(other.calls(app, 'code')).toBe(0);
    expect(await connectionRows(app)).toHaveLength(0);
    const finished = await agent.get(pathOf(url.href));
    expect(finished.status).toBe(303);
    expect((await connectionRows(app)).map((r) => r.provider)).toEqual([p.id]);
  });
});
