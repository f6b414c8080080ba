import { DAY, HOUR, MINUTE } from '../../src/shared/clock';
import { apiKey, bearer } from '../api/api-support';
import { seedConnection } from '../support/factories';
import { startTestApp, type TestApp } from '../support/harness';

/**
 * Meta's usage headers, read on every call: keepers claim fewer connections from 80 % of the rate budget,
 * and keepers and the proxy hold off from 95 % (or for the time Meta names) on every instance, before Meta
 * throttles. Real app, real database, the sandbox's answers carrying the headers.
 */

const appUsage = (percent: number) => ({
  headers: { 'X-App-Usage': JSON.stringify({ call_count: percent, total_cputime: 3, total_time: 4 }) },
});

async function state(app: TestApp) {
  const watch = app.container.watch;
  if (!watch) throw new Error('the container has a provider watch');
  await watch.flush();
  app.clock.advance(0);
  return (await watch.all()).find((s) => s.provider === 'instagram');
}

describe('Meta bad days: pacing by the usage headers', () => {
  let app: TestApp;
  afterEach(async () => {
    await app?.close();
  });

  it('when the app has used 88 % of its budget, then a sweep claims fewer connections; at 97 % none, and the proxy answers 503 with Retry-After', async () => {
    app = await startTestApp({ env: { KEEPER_BATCH_SIZE: '10' } });
    const seeded = [];
    for (let i = 0; i < 20; i += 1) seeded.push(await seedConnection(app));
    app.clock.advance(DAY + 6 * HOUR);
    // One answer for the first reading and four for the slowed sweep.
    for (let i = 0; i < 5; i += 1) app.sandbox.script('me', appUsage(88));

    // One call reads the header: every keeper now knows.
    await app.container.lifecycle.runNow('validate', seeded[0]?.id ?? '');
    expect((await state(app))?.usage?.percent).toBe(88);
    app.sandbox.resetCalls();
    const slowed = await app.container.createKeeper('slowed').sweep();
    // 10 per batch, scaled by the room left between 80 % and 95 %: floor(10 × 7 / 15) = 4, once.
    expect(slowed.claimed).toBe(4);
    expect(app.sandbox.calls.me).toBe(4);
    expect(app.logs.join('\n')).toContain('rate budget nearly used: fewer connections this sweep');

    for (let i = 0; i < 5; i += 1) app.sandbox.script('me', appUsage(97));
    const { key } = await apiKey(app);
    const first = await app.agent().get(`/api/v1/connections/${seeded[1]?.id}/proxy/me`).set(bearer(key));
    expect(first.status).toBe(200);
    const paused = await state(app);
    expect(paused?.pausedUntil).toBe(app.clock.now() + 5 * MINUTE);
    app.sandbox.resetCalls();
    expect((await app.container.createKeeper('paused').sweep()).claimed).toBe(0);
    const refused = await app.agent().get(`/api/v1/connections/${seeded[1]?.id}/proxy/me`).set(bearer(key));
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('provider_throttled');
    expect(refused.headers['retry-after']).toBe('300');
    expect(app.sandbox.calls.me).toBe(0);

    // The window frees: calls go out again and the next answer's header is read.
    app.clock.advance(5 * MINUTE + 1);
    const again = await app.agent().get(`/api/v1/connections/${seeded[1]?.id}/proxy/me`).set(bearer(key));
    expect(again.status).toBe(200);
    expect(app.sandbox.calls.me).toBe(1);
  });

  it('when Meta names a time to regain access, then every instance holds off that long', async () => {
    app = await startTestApp();
    const seeded = await seedConnection(app);
    app.sandbox.script('me', {
      headers: {
        'X-Business-Use-Case-Usage': JSON.stringify({
          '1789': [
            { type: 'instagram', call_count: 40, total_cputime: 5, total_time: 5, estimated_time_to_regain_access: 20 },
          ],
        }),
      },
    });
    const { key } = await apiKey(app);
    expect((await app.agent().get(`/api/v1/connections/${seeded.id}/proxy/me`).set(bearer(key))).status).toBe(200);
    expect((await state(app))?.pausedUntil).toBe(app.clock.now() + 20 * MINUTE);
  });

  it("when Meta throttles the whole app (code 4), then keepers hold off for Meta's hour instead of one connection", async () => {
    app = await startTestApp();
    const seeded = [];
    for (let i = 0; i < 3; i += 1) seeded.push(await seedConnection(app));
    app.clock.advance(DAY + 6 * HOUR);
    app.sandbox.script('me', app.sandbox.graphError(4, undefined, 'Application request limit reached'));
    await app.container.lifecycle.runNow('validate', seeded[0]?.id ?? '');
    expect((await state(app))?.pausedUntil).toBe(app.clock.now() + HOUR);
    app.sandbox.resetCalls();
    expect((await app.container.createKeeper().sweep()).claimed).toBe(0);
    expect(app.sandbox.calls.me).toBe(0);
  });
});
