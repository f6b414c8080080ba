import { randomUUID } from 'node:crypto';
import { insertUser } from '../../src/users/users.repository';
import { startTestApp, type TestApp } from '../support/harness';
import { PROVIDERS } from '../support/providers';

/**
 * One Instagram account authorized by one person in two tabs at the same moment (on PostgreSQL possibly
 * on two instances): both callbacks look for that person's connection, find none, and insert. The unique
 * key (user, provider, account) lets one insert win; the other must end as an update of that row, not as
 * a 500. Different people connecting the same account get a connection each.
 */
describe.each(PROVIDERS)('concurrent connects of one account (%s)', (_name, p) => {
  let app: TestApp;
  const [odd] = p.accounts;

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterEach(async () => {
    await app.close();
  });

  const connectOnce = (n: number, userId: string | undefined) =>
    app.container.connections.connect({
      userId,
      provider: p.id,
      accounts: [
        {
          accountId: odd.igUserId,
          subjectId: odd.subjectId,
          profile: {
            username: `racer_${n}`,
            name: null,
            accountType: 'BUSINESS',
            profilePictureUrl: null,
            followersCount: null,
            mediaCount: null,
          },
          token: {
            accessToken: `IGAAconcurrent-token-${n}`,
            expiresInSeconds: p.tokenLifetimeMs === null ? null : p.tokenLifetimeMs / 1000,
          },
          grantedScopes: [p.grantedScope],
        },
      ],
      requestedScopes: [p.grantedScope],
    });

  it('when the same person connects the same account from several callbacks at once, then all succeed and one row remains', async () => {
    const userId = randomUUID();
    await insertUser(app.container.db, userId, app.clock.now());
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, n) => connectOnce(n, userId)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const rows = await app.container.db.selectFrom('connections').selectAll().execute();
    expect(rows).toHaveLength(1);
    const users = await app.container.db.selectFrom('users').selectAll().execute();
    expect(users.map((u) => u.id)).toEqual([rows[0]?.user_id]);
  });

  it('when signed-out browsers connect the same account at once, then each gets a user and a connection of its own', async () => {
    const results = await Promise.allSettled(Array.from({ length: 4 }, (_, n) => connectOnce(n, undefined)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const rows = await app.container.db.selectFrom('connections').selectAll().execute();
    expect(rows).toHaveLength(4);
    expect(new Set(rows.map((r) => r.user_id)).size).toBe(4);
  });
});
