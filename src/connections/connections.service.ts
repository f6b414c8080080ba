import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database';
import { isUniqueViolation } from '../db/database-errors';
import {
  lifecycleState,
  type LifecycleSettings,
  nextActionAt,
  type PlannedAction,
  planNext,
} from '../lifecycle/lifecycle-policy';
import type { IssuedToken, ProviderProfile } from '../providers/provider-definition';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import { type TokenCipher, tokenFingerprint } from '../shared/token-cipher';
import { insertUser } from '../users/users.repository';
import {
  deleteConnectionOfUser,
  findConnectionByIgUserId,
  insertConnection,
  listConnectionsOfUser,
  updateConnection,
} from './connections.repository';
import type { ConnectionRow, ConnectionStatus } from './connections.table';

/** What pages and callers see of a connection: never the token, only its fingerprint. */
export interface Connection {
  id: string;
  provider: string;
  appScopedId: string;
  igUserId: string;
  username: string;
  name: string | null;
  accountType: string | null;
  profilePictureUrl: string | null;
  followersCount: number | null;
  mediaCount: number | null;
  grantedScopes: string[];
  requestedScopes: string[];
  /** Requested but not granted: the person unticked them on the consent screen. */
  declinedScopes: string[];
  status: ConnectionStatus;
  statusReason: string | null;
  tokenFingerprint: string;
  tokenIssuedAt: Date;
  tokenExpiresAt: Date;
  connectedAt: Date;
  lastRefreshedAt: Date | null;
  lastRefreshOutcome: string | null;
  lastValidatedAt: Date | null;
  lastValidationOutcome: string | null;
  /** For the deployer (collapsed on the page): the last failure, never a token. */
  lastError: string | null;
  backoffUntil: Date | null;
  /** What the keeper will do next, and when. */
  nextAction: PlannedAction;
}

export interface ConnectInput {
  /** The signed-in user, if any: the new account is attached to them. */
  currentUserId: string | undefined;
  provider: string;
  profile: ProviderProfile;
  token: IssuedToken;
  grantedScopes: string[];
  requestedScopes: string[];
}

/** The associated data that binds a token ciphertext to its row. */
export function tokenAad(connectionId: string): string {
  return `connection:${connectionId}`;
}

function splitScopes(value: string): string[] {
  return value === '' ? [] : value.split(',');
}

const dateOrNull = (value: number | null) => (value === null ? null : new Date(Number(value)));

export function toConnection(row: ConnectionRow, settings: LifecycleSettings): Connection {
  const granted = splitScopes(row.granted_scopes);
  const requested = splitScopes(row.requested_scopes);
  return {
    id: row.id,
    provider: row.provider,
    appScopedId: row.app_scoped_id,
    igUserId: row.ig_user_id,
    username: row.username,
    name: row.name,
    accountType: row.account_type,
    profilePictureUrl: row.profile_picture_url,
    followersCount: row.followers_count,
    mediaCount: row.media_count,
    grantedScopes: granted,
    requestedScopes: requested,
    declinedScopes: requested.filter((s) => !granted.includes(s)),
    status: row.status,
    statusReason: row.status_reason,
    tokenFingerprint: row.token_fingerprint,
    tokenIssuedAt: new Date(Number(row.token_issued_at)),
    tokenExpiresAt: new Date(Number(row.token_expires_at)),
    connectedAt: new Date(Number(row.connected_at)),
    lastRefreshedAt: dateOrNull(row.last_refreshed_at),
    lastRefreshOutcome: row.last_refresh_outcome,
    lastValidatedAt: dateOrNull(row.last_validated_at),
    lastValidationOutcome: row.last_validation_outcome,
    lastError: row.last_error,
    backoffUntil: dateOrNull(row.backoff_until),
    nextAction: planNext(lifecycleState(row), settings),
  };
}

export class ConnectionsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: TokenCipher,
    private readonly clock: Clock,
    private readonly settings: LifecycleSettings,
  ) {}

  /**
   * Stores a freshly authorized account. One Instagram account is one connection: connecting it again
   * updates that row (new token, profile, permissions) instead of adding a second one, and moves it to
   * the person now signed in (they just proved control of it on Instagram). Returns the owning user.
   */
  async connect(input: ConnectInput): Promise<{ userId: string; connection: Connection }> {
    try {
      return await this.connectOnce(input);
    } catch (error) {
      // The account was authorized twice at the same moment (two browsers, maybe two instances): both
      // transactions found no row and inserted, and the unique constraint let one win. Once that row is
      // committed (the losing insert waited for it), a second attempt finds it and updates it.
      if (!isUniqueViolation(error)) throw error;
      return this.connectOnce(input);
    }
  }

  private async connectOnce(input: ConnectInput): Promise<{ userId: string; connection: Connection }> {
    const now = this.clock.now();
    return this.db.transaction().execute(async (trx) => {
      const existing = await findConnectionByIgUserId(trx, input.provider, input.profile.igUserId);
      let userId = input.currentUserId ?? existing?.user_id;
      if (!userId) {
        userId = randomUUID();
        await insertUser(trx, userId, now);
      }
      const id = existing?.id ?? randomUUID();
      const sealed = this.cipher.seal(input.token.accessToken, tokenAad(id));
      const fields = {
        user_id: userId,
        app_scoped_id: input.profile.appScopedId,
        username: input.profile.username,
        name: input.profile.name,
        account_type: input.profile.accountType,
        profile_picture_url: input.profile.profilePictureUrl,
        followers_count: input.profile.followersCount,
        media_count: input.profile.mediaCount,
        granted_scopes: input.grantedScopes.join(','),
        requested_scopes: input.requestedScopes.join(','),
        status: 'active' as const,
        status_reason: null,
        token_ciphertext: sealed.ciphertext,
        token_key_id: sealed.keyId,
        token_fingerprint: tokenFingerprint(input.token.accessToken),
        token_issued_at: now,
        token_expires_at: now + input.token.expiresInSeconds * 1000,
        updated_at: now,
        // A (re)connect starts the lifecycle afresh and takes the row from any keeper working on it:
        // that keeper's conditional write then fails and its result is dropped.
        last_error: null,
        failure_count: 0,
        backoff_until: null,
        lease_owner: null,
        lease_until: null,
        last_validated_at: now,
        last_validation_outcome: 'ok',
      };
      const next = nextActionAt(
        {
          id,
          status: 'active',
          tokenIssuedAt: now,
          tokenExpiresAt: fields.token_expires_at,
          lastValidatedAt: now,
          backoffUntil: null,
        },
        this.settings,
      );
      if (existing) {
        await updateConnection(trx, id, { ...fields, next_action_at: next });
      } else {
        await insertConnection(trx, {
          ...fields,
          next_action_at: next,
          id,
          provider: input.provider,
          ig_user_id: input.profile.igUserId,
          connected_at: now,
        });
      }
      const row = await findConnectionByIgUserId(trx, input.provider, input.profile.igUserId);
      if (!row) throw new Error('connection vanished inside its own transaction');
      return { userId, connection: toConnection(row, this.settings) };
    });
  }

  async listForUser(userId: string): Promise<Connection[]> {
    return (await listConnectionsOfUser(this.db, userId)).map((row) => toConnection(row, this.settings));
  }

  /** Removes the connection and its token. Instagram Login has no revoke endpoint: deleting is disconnecting. */
  async disconnect(userId: string, connectionId: string): Promise<void> {
    const deleted = await deleteConnectionOfUser(this.db, connectionId, userId);
    if (deleted === 0) throw new AppError('NOT_FOUND', 'no such connection for this user');
  }
}
