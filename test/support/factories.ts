import type { ConnectionRow } from '../../src/db/schema';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import type { TestApp } from './harness';

let counter = 0;

/**
 * A stored connection whose token was minted by the sandbox at `issuedAt` (no browser dance): for tests
 * that need many connections or old tokens. Each gets its own made-up 17-digit Instagram id; the token
 * belongs to a real sandbox test account, which is all the sandbox checks on refresh and /me.
 */
export async function seedConnection(
  app: TestApp,
  options: { issuedAt?: number; userId?: string; igUserId?: string; account?: string; scopes?: string[] } = {},
): Promise<ConnectionRow> {
  const account = options.account ?? SANDBOX_TEST_ACCOUNTS[0]?.igUserId ?? '';
  const issuedAt = options.issuedAt ?? app.clock.now();
  const scopes = options.scopes ?? ['instagram_business_basic'];
  const accessToken = app.sandbox.issueLongLivedToken(account, { issuedAt, scopes });
  const info = app.sandbox.tokenInfo(accessToken);
  if (!info) throw new Error('sandbox did not mint a token');
  counter += 1;
  const igUserId = options.igUserId ?? String(17841499000000000n + BigInt(counter) * 7n);
  const now = app.clock.now();
  app.clock.set(issuedAt);
  try {
    const { connections } = await app.container.connections.connect({
      userId: options.userId,
      provider: 'instagram',
      accounts: [
        {
          accountId: igUserId,
          subjectId: String(26173499000000000n + BigInt(counter) * 7n),
          profile: {
            username: `seeded.${counter}`,
            name: null,
            accountType: 'BUSINESS',
            profilePictureUrl: null,
            followersCount: null,
            mediaCount: null,
          },
          token: { accessToken, expiresInSeconds: Math.round((info.expiresAt - issuedAt) / 1000) },
          grantedScopes: scopes,
        },
      ],
      requestedScopes: scopes,
    });
    return await row(app, connections[0]?.id ?? '');
  } finally {
    app.clock.set(now);
  }
}

export async function row(app: TestApp, id: string): Promise<ConnectionRow> {
  return app.container.db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** The profile a row holds (one JSON value). */
export function profileOf(connection: ConnectionRow): { username: string; [field: string]: unknown } {
  return JSON.parse(connection.profile) as { username: string };
}

export function storedToken(app: TestApp, connection: ConnectionRow): string {
  return app.container.cipher.open(
    { keyId: connection.token_key_id, ciphertext: connection.token_ciphertext },
    `connection:${connection.id}`,
  );
}
