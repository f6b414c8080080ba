import { randomBytes, randomUUID } from 'node:crypto';
import type { Insertable, Kysely } from 'kysely';
import type { LifecycleConfig } from '../../src/config/config';
import { tokenAad } from '../../src/connections/token-vault';
import type { ConnectionsTable, Database } from '../../src/db/schema';
import { nextActionAt } from '../../src/lifecycle/lifecycle-policy';
import { MIN_REFRESH_AGE_MS } from '../../src/providers/instagram';
import { DAY, HOUR } from '../../src/shared/clock';
import { type TokenCipher, tokenFingerprint } from '../../src/shared/token-cipher';

/** Long-lived token lifetime on the wire (expires_in 5183944 s, a little under 60 days). */
const LONG_LIVED_MS = 5_183_944_000;
/** Rows per INSERT: 35 columns each stays far below SQLite's 32766 bound variables per statement. */
const BATCH = 400;

let seeded = 0;

export interface SeedPlan {
  /** Connections to add. */
  count: number;
  /** The first `due.length` of them hold these sandbox-minted tokens, issued at `dueIssuedAt`: due for refresh. */
  due: string[];
  dueIssuedAt: number;
  now: number;
  /** Connections per user for the users created here. */
  perUser: number;
}

/**
 * Stored connections in bulk: pre-sealed rows written through Kysely in one transaction, batched.
 * Rows that are not due hold a sealed made-up token (the keeper will not touch them before the run
 * ends); `next_action_at` comes from the same policy the app uses, so the schedule is the real one.
 */
export async function seedConnections(
  db: Kysely<Database>,
  cipher: TokenCipher,
  settings: LifecycleConfig,
  plan: SeedPlan,
): Promise<{ ms: number }> {
  const started = performance.now();
  await db.transaction().execute(async (trx) => {
    let userId = '';
    let rows: Insertable<ConnectionsTable>[] = [];
    let users: { id: string; created_at: number }[] = [];
    const flush = async () => {
      if (users.length > 0) await trx.insertInto('users').values(users).execute();
      if (rows.length > 0) await trx.insertInto('connections').values(rows).execute();
      rows = [];
      users = [];
    };
    for (let i = 0; i < plan.count; i++) {
      if (i % plan.perUser === 0) {
        userId = randomUUID();
        users.push({ id: userId, created_at: plan.now - 90 * DAY });
      }
      rows.push(connectionRow(cipher, settings, plan, i, userId));
      if (rows.length === BATCH) await flush();
    }
    await flush();
  });
  return { ms: performance.now() - started };
}

function connectionRow(
  cipher: TokenCipher,
  settings: LifecycleConfig,
  plan: SeedPlan,
  i: number,
  userId: string,
): Insertable<ConnectionsTable> {
  seeded += 1;
  const id = randomUUID();
  const dueToken = plan.due[i];
  const token = dueToken ?? `IGAAbench${randomBytes(24).toString('base64url')}`;
  // Due: issued ~51 days ago, inside the 10-day refresh window. Not due: issued within the last 40 days
  // and checked within the last 20 hours, so neither refresh nor validation comes up during the run.
  const issuedAt = dueToken ? plan.dueIssuedAt : plan.now - ((i * 7919) % 40) * DAY - HOUR;
  const lastValidatedAt = plan.now - ((i * 104729) % 20) * HOUR - HOUR;
  const sealed = cipher.seal(token, tokenAad(id));
  const row = {
    id,
    user_id: userId,
    provider: 'instagram',
    subject_id: String(26173490000000001n + 2n * BigInt(seeded)),
    account_id: String(17841490000000001n + 2n * BigInt(seeded)),
    profile: JSON.stringify({
      username: `seeded.account.${seeded}`,
      name: `Seeded Account ${seeded}`,
      accountType: 'BUSINESS',
      profilePictureUrl: null,
      followersCount: 1000 + (i % 5000),
      mediaCount: i % 300,
    }),
    granted_scopes: 'instagram_business_basic',
    requested_scopes: 'instagram_business_basic',
    status: 'active' as const,
    status_reason: null,
    token_ciphertext: sealed.ciphertext,
    token_key_id: sealed.keyId,
    token_fingerprint: tokenFingerprint(token),
    token_issued_at: issuedAt,
    token_expires_at: issuedAt + LONG_LIVED_MS,
    connected_at: issuedAt,
    updated_at: issuedAt,
    last_refreshed_at: null,
    last_refresh_outcome: null,
    last_validated_at: lastValidatedAt,
    last_validation_outcome: 'ok',
    last_error: null,
    failure_count: 0,
    backoff_until: null,
    lease_owner: null,
    lease_until: null,
  };
  return {
    ...row,
    next_action_at: nextActionAt(
      {
        id,
        provider: row.provider,
        status: row.status,
        tokenIssuedAt: issuedAt,
        tokenExpiresAt: row.token_expires_at,
        accessExpiresAt: null,
        lastValidatedAt,
        backoffUntil: null,
      },
      { renewal: { minAgeMs: MIN_REFRESH_AGE_MS } },
      settings,
    ),
  };
}

/** Connections the keeper could work on at `now`, as the sweep's claim would see them. */
export async function countDue(db: Kysely<Database>, now: number): Promise<number> {
  const row = await db
    .selectFrom('connections')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('next_action_at', '<=', now)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function countConnections(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('connections')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
