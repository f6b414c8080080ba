import { DAY } from '../../src/shared/clock';
import { storedTokens } from '../security/security-support';
import { connect, ODD_ACCOUNT, startTestApp, type TestApp } from '../support/harness';
import { waitFor } from '../support/processes';

/**
 * The keeper writes a result only while it still holds the connection's lease. Black-box: two real
 * keepers, the sandbox over HTTP with one slow answer, and the rows. Runs on SQLite and, under
 * `npm run test:pg`, on PostgreSQL.
 */
describe('keeper leases: a keeper that stalls past its lease', () => {
  const LEASE_SECONDS = 10;
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp({
      env: { VALIDATE_INTERVAL_HOURS: '0', KEEPER_LEASE_SECONDS: String(LEASE_SECONDS) },
    });
  });
  afterEach(async () => {
    await app.close();
  });

  const stored = async () => {
    const [row] = await app.container.db.selectFrom('connections').selectAll().execute();
    if (!row) throw new Error('no connection');
    return row;
  };

  it('when a slow keeper answers after a successor renewed the same token, then the successor’s token stays', async () => {
    expect((await connect(app.agent(), { account: ODD_ACCOUNT.igUserId })).status).toBe(303);
    const original = await stored();
    app.clock.advance(51 * DAY); // inside the refresh window: due

    // The first refresh call stalls in Instagram; the keeper that made it keeps waiting.
    app.sandbox.script('refresh', { delayMs: 1500 });
    const slow = app.container.createKeeper('keeper-slow');
    const slowSweep = slow.sweep();
    await waitFor(async () => (app.sandbox.calls.refresh === 1 ? true : undefined), 'the slow refresh call', 5000, 5);

    // Its lease lapses; a second keeper takes the connection over and renews the token at once.
    app.clock.advance((LEASE_SECONDS + 1) * 1000);
    const successor = app.container.createKeeper('keeper-successor');
    await successor.sweep();
    const renewed = await stored();
    expect(renewed.token_fingerprint).not.toBe(original.token_fingerprint);
    expect(renewed.last_refresh_outcome).toBe('ok');
    const [successorToken] = await storedTokens(app);
    expect(app.sandbox.calls.refresh).toBe(2);

    // Now the slow call answers (with a token of its own); its result must not replace the newer one.
    await slowSweep;
    const after = await stored();
    expect(after.token_fingerprint).toBe(renewed.token_fingerprint);
    expect(after.token_issued_at).toBe(renewed.token_issued_at);
    expect(after.status).toBe('active');
    expect(after.lease_owner).toBeNull();
    expect(await storedTokens(app)).toEqual([successorToken]);
    expect(app.sandbox.tokenInfo(successorToken as string)?.invalidated).toBeUndefined();
  });
});
