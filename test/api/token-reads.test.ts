import { listTokenReads, recordTokenRead } from '../../src/api/token-reads';
import { startTestApp, type TestApp } from '../support/harness';

/** The token-read record's group commits (ADR 0012), on the test's database engine. */
describe('API: token reads recorded together', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('when more reads arrive in one turn than one INSERT may bind, then each is recorded, in INSERTs of a bounded size', async () => {
    // 14,000 rows of 5 values: past both engines' limit on bound parameters (SQLite 32,766, PostgreSQL
    // 65,535) in one statement, so only INSERTs of a bounded number of rows record them all.
    const at = app.clock.now();
    const reads = Array.from({ length: 14_000 }, (_, i) =>
      recordTokenRead(app.container.db, { apiKeyId: 'key_test', connectionId: `c${i}`, at, renewed: false }),
    );
    await Promise.all(reads);
    const recorded = await listTokenReads(app.container.db, { limit: 20_000 });
    expect(recorded).toHaveLength(14_000);
    expect(new Set(recorded.map((r) => r.id)).size).toBe(14_000);
  }, 60_000);
});
