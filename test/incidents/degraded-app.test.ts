import { createContainer } from '../../src/main/container';
import { loadConfig } from '../../src/config/config';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { DAY, HOUR, MINUTE } from '../../src/shared/clock';
import { apiKey, bearer } from '../api/api-support';
import { row, seedConnection, storedToken } from '../support/factories';
import { startTestApp, type TestApp } from '../support/harness';

/**
 * Meta's bad days (ADR 0011): when every call answers the same error, the app is degraded and no
 * connection is marked; a token that is really dead still marks its own connection; the app recovers by
 * itself through the keepers' slow probes. Real app, real database, the sandbox over HTTP.
 */

const ACCOUNT_A = SANDBOX_TEST_ACCOUNTS[0]?.igUserId ?? '';
const ACCOUNT_B = SANDBOX_TEST_ACCOUNTS[1]?.igUserId ?? '';

async function statuses(app: TestApp): Promise<Record<string, number>> {
  const rows = await app.container.db.selectFrom('connections').select('status').execute();
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

async function seedMany(app: TestApp, n: number, account = ACCOUNT_A) {
  const rows = [];
  for (let i = 0; i < n; i += 1) rows.push(await seedConnection(app, { account }));
  return rows;
}

async function degraded(app: TestApp) {
  const watch = app.container.watch;
  if (!watch) throw new Error('the container has a provider watch');
  await watch.flush();
  return (await watch.all()).find((s) => s.provider === 'instagram')?.degraded ?? null;
}

describe('Meta bad days: the degraded app', () => {
  let app: TestApp;
  afterEach(async () => {
    await app?.close();
  });

  it.each([
    ['a refused token (190/460)', 190, 460],
    ['"Unsupported request" for every account (100)', 100, undefined],
  ])(
    'when every call answers %s, then the app is degraded and 0 connections need reconnecting; it recovers by itself',
    async (_name, code, subcode) => {
      app = await startTestApp();
      await seedMany(app, 30);
      app.clock.advance(DAY + 6 * HOUR);
      app.sandbox.setIncident(app.sandbox.graphError(code, subcode));

      const first = await app.container.createKeeper('first').sweep();
      expect(await statuses(app)).toEqual({ active: 30 });
      const state = await degraded(app);
      expect(state?.signature).toContain(`graph:${code}/`);
      // The first calls (and their cross-checks) went out before it was clear, then the rest of the batch
      // was handed back: at most the keeper's concurrency times one call and two cross-checks.
      expect(app.sandbox.calls.me).toBeLessThanOrEqual(4 * 3);
      expect(first.byOutcome.token_invalid ?? 0).toBe(0);
      expect(app.logs.join('\n')).toContain('Instagram app degraded');

      // Held off: another sweep within the probe interval calls nothing.
      app.sandbox.resetCalls();
      await app.container.createKeeper('second').sweep();
      expect(app.sandbox.calls.me).toBe(0);

      // The probe at its slow pace: one call, still failing, still degraded, still nobody marked.
      app.clock.advance(6 * MINUTE);
      await app.container.createKeeper('probe').sweep();
      expect(app.sandbox.calls.me).toBe(1);
      expect(await degraded(app)).not.toBeNull();
      expect(await statuses(app)).toEqual({ active: 30 });

      // Meta is well again: the next probe succeeds, the app recovers, and the keeper catches up.
      app.sandbox.setIncident(undefined);
      app.clock.advance(6 * MINUTE);
      await app.container.createKeeper('recovery').sweep();
      expect(await degraded(app)).toBeNull();
      expect(app.logs.join('\n')).toContain('Instagram app recovered');
      app.clock.advance(6 * MINUTE);
      await app.container.createKeeper('after').sweep();
      const rows = await app.container.db.selectFrom('connections').selectAll().execute();
      expect(rows.map((r) => [r.status, r.last_validation_outcome])).toEqual(rows.map(() => ['active', 'ok']));
    },
  );

  it('when one token is really dead among working ones, then that connection alone is marked and the app is not degraded', async () => {
    app = await startTestApp();
    await seedMany(app, 8);
    const dead = await seedConnection(app, { account: ACCOUNT_B });
    app.sandbox.revokeTokens(ACCOUNT_B);
    app.clock.advance(DAY + 6 * HOUR);
    await app.container.createKeeper().sweep();
    const marked = await row(app, dead.id);
    expect([marked.status, marked.status_reason, marked.last_validation_outcome]).toEqual([
      'needs_reconnect',
      'revoked',
      'token_invalid',
    ]);
    expect(await statuses(app)).toEqual({ active: 8, needs_reconnect: 1 });
    expect(await degraded(app)).toBeNull();
  });

  it('when several tokens die at once among many working ones, then each is marked and the app is not degraded', async () => {
    app = await startTestApp();
    const living = await seedMany(app, 10);
    await seedMany(app, 3, ACCOUNT_B);
    app.sandbox.revokeTokens(ACCOUNT_B);
    // The working ones were checked a moment ago: their successes stand against an incident.
    app.clock.advance(DAY + 6 * HOUR);
    for (const c of living) await app.container.lifecycle.runNow('validate', c.id);
    await app.container.createKeeper().sweep();
    expect(await statuses(app)).toEqual({ active: 10, needs_reconnect: 3 });
    expect(await degraded(app)).toBeNull();
  });

  it('when a few connections fail the same passing way among many successes, then the app is not degraded', async () => {
    app = await startTestApp();
    const seeded = await seedMany(app, 13);
    app.clock.advance(DAY + 6 * HOUR);
    const check = (i: number) => app.container.lifecycle.runNow('validate', seeded[i]?.id ?? '');
    app.sandbox.script('me', app.sandbox.graphError(2));
    expect((await check(0)).outcome).toBe('unavailable');
    // Ten others work meanwhile (in later 10-second buckets than the first failure)...
    app.clock.advance(20_000);
    for (let i = 3; i < 13; i += 1) expect((await check(i)).outcome).toBe('ok');
    app.clock.advance(20_000);
    // ...so two more failures of the same kind are three connections' own blips, not an incident.
    app.sandbox.script('me', app.sandbox.graphError(2));
    app.sandbox.script('me', app.sandbox.graphError(2));
    expect((await check(1)).outcome).toBe('unavailable');
    expect((await check(2)).outcome).toBe('unavailable');
    expect(await degraded(app)).toBeNull();
  });

  it('when the proxy meets a platform incident, then the callers get Meta answers and every connection stays active', async () => {
    app = await startTestApp();
    const seeded = await seedMany(app, 6);
    const { key } = await apiKey(app);
    app.sandbox.setIncident(app.sandbox.graphError(190, 460));
    for (const c of seeded) {
      const response = await app.agent().get(`/api/v1/connections/${c.id}/proxy/me`).set(bearer(key));
      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({ code: 190, error_subcode: 460 });
    }
    expect(await statuses(app)).toEqual({ active: 6 });
    expect(await degraded(app)).not.toBeNull();
    // Meta is well again: the next proxied call succeeds and the app recovers.
    app.sandbox.setIncident(undefined);
    app.clock.advance(MINUTE);
    const ok = await app.agent().get(`/api/v1/connections/${seeded[0]?.id}/proxy/me`).set(bearer(key));
    expect(ok.status).toBe(200);
    expect(await degraded(app)).toBeNull();
  });

  it('when the token of a proxied call is really dead, then that connection is marked at once', async () => {
    app = await startTestApp();
    await seedMany(app, 4);
    const dead = await seedConnection(app, { account: ACCOUNT_B });
    const { key } = await apiKey(app);
    app.sandbox.revokeTokens(ACCOUNT_B);
    const response = await app.agent().get(`/api/v1/connections/${dead.id}/proxy/me`).set(bearer(key));
    expect(response.status).toBe(400);
    expect((await row(app, dead.id)).status).toBe('needs_reconnect');
    expect(await statuses(app)).toEqual({ active: 4, needs_reconnect: 1 });
  });

  it('when no cross-check is allowed, then the incident is still told from a dead token by the other connections', async () => {
    // Without cross-checks the only evidence is what other connections did: none of them worked.
    app = await startTestApp({ env: { INCIDENT_CROSS_CHECKS: '0' } });
    await seedMany(app, 6);
    app.clock.advance(DAY + 6 * HOUR);
    app.sandbox.setIncident(app.sandbox.graphError(190, 460));
    await app.container.createKeeper().sweep();
    expect(await statuses(app)).toEqual({ active: 6 });
    expect(await degraded(app)).not.toBeNull();
  });

  it('when the deployment has a single connection, then a dead token still marks it', async () => {
    app = await startTestApp();
    const only = await seedConnection(app, { account: ACCOUNT_B });
    app.sandbox.revokeTokens(ACCOUNT_B);
    app.clock.advance(DAY + 6 * HOUR);
    await app.container.createKeeper().sweep();
    expect((await row(app, only.id)).status).toBe('needs_reconnect');
  });

  it('when one instance finds the app degraded, then another instance on the same database holds off too', async () => {
    app = await startTestApp();
    await seedMany(app, 6);
    app.clock.advance(DAY + 6 * HOUR);
    app.sandbox.setIncident(app.sandbox.graphError(190, 460));
    await app.container.createKeeper().sweep();
    expect(await degraded(app)).not.toBeNull();

    const other = await createContainer(loadConfig(app.env), {
      clock: app.clock,
      logDestination: { write: () => undefined },
    });
    try {
      const state = (await other.watch?.all())?.find((s) => s.provider === 'instagram');
      expect(state?.degraded?.signature).toContain('graph:190/460');
      app.sandbox.resetCalls();
      // Its keeper reaches the sandbox over HTTP like the first; it claims nothing of a degraded provider.
      const summary = await other.createKeeper('other').sweep();
      expect(summary.claimed).toBe(0);
      expect(app.sandbox.calls.me).toBe(0);
    } finally {
      await other.close();
    }
    expect(await statuses(app)).toEqual({ active: 6 });
  });

  it('a reconnect-kind failure is never stored as the connection being marked while the app is degraded', async () => {
    app = await startTestApp();
    const seeded = await seedMany(app, 5);
    app.clock.advance(DAY + 6 * HOUR);
    app.sandbox.setIncident(app.sandbox.graphError(190, 463));
    await app.container.createKeeper().sweep();
    const target = seeded[0];
    if (!target) throw new Error('seeded');
    // "Validate now" on the status page during the incident: the call is made, nothing is marked.
    const result = await app.container.lifecycle.runNow('validate', target.id);
    expect(result.outcome).toBe('unavailable');
    const after = await row(app, target.id);
    expect(after.status).toBe('active');
    expect(after.last_error).toContain('the provider app is degraded');
    expect(storedToken(app, after)).toBe(storedToken(app, target));
  });
});
