import { ODD_ACCOUNT, startTestApp, type TestApp } from '../support/harness';

/**
 * One Instagram account authorized in two browsers at the same moment (on PostgreSQL possibly on two
 * instances): both callbacks look for the connection, find none, and insert. The unique constraint lets
 * one insert win; the other must end as an update of that row, not as a 500.
 */
describe('concurrent connects of one account', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('when the same account is connected by several callbacks at once, then all succeed and one row remains', async () => {
    const connectOnce = (n: number) =>
      app.container.connections.connect({
        currentUserId: undefined,
        provider: 'instagram',
        profile: {
          appScopedId: ODD_ACCOUNT.appScopedId,
          igUserId: ODD_ACCOUNT.igUserId,
          username: `racer_${n}`,
          name: null,
          accountType: 'BUSINESS',
          profilePictureUrl: null,
          followersCount: null,
          mediaCount: null,
        },
        token: { accessToken: `IGAAconcurrent-token-${n}`, expiresInSeconds: 5183944 },
        grantedScopes: ['instagram_business_basic'],
        requestedScopes: ['instagram_business_basic'],
      });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, n) => connectOnce(n)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const rows = await app.container.db.selectFrom('connections').selectAll().execute();
    expect(rows).toHaveLength(1);
    const users = await app.container.db.selectFrom('users').selectAll().execute();
    expect(users.map((u) => u.id)).toEqual([rows[0]?.user_id]);
  });
});
