import { ODD_ACCOUNT } from '../support/harness';
import { DedicatedCluster, describeOnPostgres } from '../support/postgres';
import {
  Browser,
  connectAcross,
  freePort,
  type RunningProcess,
  sharedSecrets,
  startWebProcess,
  waitFor,
} from '../support/processes';

/**
 * The database restarts under a running app process: a cluster of this test's own (the shared one of
 * `npm run test:pg` serves the other tests), stopped and started again while the app keeps running.
 */
describeOnPostgres('a PostgreSQL restart under a running app', () => {
  let cluster: DedicatedCluster;
  let app: RunningProcess;

  beforeAll(async () => {
    cluster = new DedicatedCluster(await freePort());
    await cluster.destroy(); // leftovers of an interrupted run
    await cluster.start();
    app = await startWebProcess({ ...sharedSecrets(), DATABASE_URL: cluster.url, DATABASE_TIMEOUT_MS: '1000' });
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await cluster?.destroy();
  }, 60_000);

  it('when the database goes down, then requests answer 503 cleanly, and when it is back they recover alone', async () => {
    const browser = new Browser();
    const connected = await connectAcross(browser, {
      startOrigin: app.url,
      callbackOrigin: app.url,
      account: ODD_ACCOUNT.igUserId,
    });
    expect(connected.status).toBe(303);
    expect((await browser.get(`${app.url}/account`)).text).toContain(ODD_ACCOUNT.igUserId);

    await cluster.stop();

    const started = Date.now();
    const page = await browser.get(`${app.url}/account`);
    expect(page.status).toBe(503);
    expect(page.text).toContain('data-error-code="UNAVAILABLE"');
    expect(page.text).not.toMatch(/\n\s+at |ECONNREFUSED|postgres/i);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await browser.get(`${app.url}/readyz`)).status).toBe(503);
    expect((await browser.get(`${app.url}/healthz`)).status).toBe(200);
    expect((await browser.get(`${app.url}/auth/instagram`)).status).toBe(503);

    await cluster.start();

    await waitFor(
      async () => ((await browser.get(`${app.url}/readyz`)).status === 200 ? true : undefined),
      'readiness after the restart',
    );
    const after = await browser.get(`${app.url}/account`);
    expect(after.status).toBe(200);
    expect(after.text).toContain(`data-instagram-user-id="${ODD_ACCOUNT.igUserId}"`);
    expect(app.alive()).toBe(true);
    expect(app.output()).not.toMatch(/unexpected error/);
    expect(app.output()).toMatch(/database unavailable/);
    // The server closed the idle pooled connections: pg reported it as an 'error' event, which would have
    // ended the process had nobody listened.
    expect(app.output()).toMatch(/database connection lost/);
    // Only the error's message and code: pg-pool hangs the client (with its connection parameters) on it.
    expect(app.output()).not.toMatch(/connectionParameters|_poolUseCount/);
  }, 60_000);
});
