import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_COUNT_SHARE_MS } from '../../src/http/rate-limit';
import { MINUTE } from '../../src/shared/clock';
import { startTestApp, type TestApp } from '../support/harness';
import { apiKey, bearer } from './api-support';

/**
 * The API's limit per key (API_RATE_LIMIT_PER_MINUTE), counted in memory and added to the shared count in
 * the database at most once per API_COUNT_SHARE_MS (src/http/rate-limit.ts, BatchedStore).
 */
describe('API: the rate limit per key', () => {
  let apps: TestApp[] = [];
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'igconnect-api-limit-'));
  });
  afterEach(async () => {
    for (const app of apps) await app.close();
    apps = [];
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(limit: number, databaseUrl?: string): Promise<TestApp> {
    const app = await startTestApp({
      env: { API_RATE_LIMIT_PER_MINUTE: String(limit), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) },
    });
    apps.push(app);
    return app;
  }
  const list = (app: TestApp, key: string) => app.agent().get('/api/v1/connections').set(bearer(key));

  it('when a key sends more than its limit, then the extra requests get a JSON 429 with Retry-After', async () => {
    const app = await start(3);
    const { key } = await apiKey(app);
    for (let i = 0; i < 3; i++) expect((await list(app, key)).status).toBe(200);
    const refused = await list(app, key);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    app.clock.advance(MINUTE);
    expect((await list(app, key)).status).toBe(200);
  });

  it('when ten requests race for the last three places, then exactly three get through', async () => {
    const app = await start(5);
    const { key } = await apiKey(app);
    expect((await list(app, key)).status).toBe(200);
    expect((await list(app, key)).status).toBe(200);
    const statuses = (await Promise.all(Array.from({ length: 10 }, () => list(app, key)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
  });

  it("when two instances share one database, then each counts the other's requests once they are added", async () => {
    const url = `sqlite:${join(dir, 'shared.db')}`;
    const first = await start(4, url);
    const second = await start(4, url);
    const { key } = await apiKey(first);
    for (let i = 0; i < 3; i++) expect((await list(first, key)).status).toBe(200);
    // A second later the first instance adds what it counted since its first request.
    first.clock.advance(API_COUNT_SHARE_MS);
    expect((await list(first, key)).status).toBe(200);
    // The second instance's first request for the key reads the shared count: four already.
    expect((await list(second, key)).status).toBe(429);
  });
});
