import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction, Updateable } from 'kysely';
import type { ConnectionRow, ConnectionStatus, ConnectionsTable, Database } from '../db/schema';
import { isUniqueViolation } from '../db/database-errors';
import { withWriteTransaction } from '../db/database-retry';
import type { AccountProfile, AuthorizedAccount, IssuedToken } from '../providers/provider-definition';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import type { SealedToken } from '../shared/token-cipher';
import { deleteUser, findEndUser, insertUser } from '../users/users.repository';
import * as repo from './connections.repository';
import type { SealedRow } from './connections.repository';
import type { TokenVault } from './token-vault';

/**
 * The one writer of connection rows (CONTEXT.md): connecting, the keeper's results, reconnect marks,
 * deletes, key rotation. Each change is one transaction, tokens are sealed and opened only through the
 * vault, and every change recomputes when the keeper should look at the row next.
 */

/** What the keeper plans for a connection (src/lifecycle/lifecycle-policy.ts), handed in by main. */
export type PlannedAction = { kind: 'refresh' | 'validate' | 'expire'; at: number } | { kind: 'none' };

export interface ScheduleInput {
  id: string;
  provider: string;
  status: ConnectionStatus;
  tokenIssuedAt: number;
  tokenExpiresAt: number | null;
  /** When data access lapses whatever the token's expiry (Facebook Login); null without such a limit. */
  accessExpiresAt: number | null;
  lastValidatedAt: number | null;
  backoffUntil: number | null;
}

export interface Schedule {
  plan(connection: ScheduleInput): PlannedAction;
}

/** What pages and callers see of a connection: never the token, only its fingerprint. Times in epoch ms. */
export interface Connection extends ScheduleInput {
  userId: string;
  /** The deployer's id of the owner, for connections made through a connect link; else null. */
  endUserId: string | null;
  /** The account's id at the provider, exact (for both Meta providers, the professional account id). */
  accountId: string;
  /** The person who authorized, as the provider identifies them to this app. */
  subjectId: string;
  profile: AccountProfile;
  grantedScopes: string[];
  requestedScopes: string[];
  /** Requested but not granted: the person unticked them on the consent screen. */
  declinedScopes: string[];
  statusReason: string | null;
  tokenFingerprint: string;
  connectedAt: number;
  updatedAt: number;
  lastRefreshedAt: number | null;
  lastRefreshOutcome: string | null;
  lastValidationOutcome: string | null;
  /** For the deployer (collapsed on the page): the last failure, never a token. */
  lastError: string | null;
  failureCount: number;
  /** What the keeper will do next, and when. */
  nextAction: PlannedAction;
}

/** A connection a keeper holds a lease on, with its token still sealed. */
export interface ClaimedConnection {
  connection: Connection;
  sealed: SealedToken;
}

export interface ConnectInput {
  /** The signed-in user, if any: the accounts are attached to them. Otherwise a new user is made. */
  userId?: string | undefined;
  /** Or one of the deployer's users (a connect link): their user is found or made; nobody signs in. */
  endUserId?: string;
  provider: string;
  accounts: AuthorizedAccount[];
  requestedScopes: string[];
  /**
   * Runs inside the connect's transaction once the rows are written (e.g. to use up a connect link);
   * throwing rolls the whole connect back.
   */
  inTransaction?: (trx: repo.Db, connections: Connection[]) => Promise<void>;
}

/** Why a connection was deleted, as events report it. */
export type DeletionReason = 'user' | 'api' | 'deauthorize' | 'data_deletion';

export type ConnectionEventType =
  | 'connection.created'
  | 'connection.updated'
  | 'connection.refreshed'
  | 'connection.needs_reconnect'
  | 'connection.deleted';

/**
 * Where changes are reported (src/events, handed in by main): called inside the transaction of the
 * change, so a change and its event commit together or not at all.
 */
export interface ConnectionEvents {
  /** False when nothing is recorded: the writer then skips the reads an event would need. */
  readonly enabled: boolean;
  record(trx: repo.Db, event: { type: ConnectionEventType; connection: Connection; reason?: string }): Promise<void>;
  /** Told after a transaction that may have recorded events committed, so that delivery starts at once. */
  committed(): void;
}

const NO_EVENTS: ConnectionEvents = { enabled: false, record: async () => undefined, committed: () => undefined };

export interface ConnectionPage {
  connections: Connection[];
  /** Pass back to get the next page; null on the last one. */
  next: string | null;
}

/**
 * A keeper's result for one connection. Absent fields stay as they are; `failure: null` clears the
 * failure count and backoff.
 */
export interface LifecycleUpdate {
  token?: IssuedToken;
  profile?: AccountProfile;
  status?: { status: ConnectionStatus; reason: string | null };
  refresh?: { outcome: string; at?: number };
  validation?: { outcome: string; at?: number };
  failure?: { count: number; backoffUntil: number | null } | null;
  /** For the deployer: the last failure (bounded, never a token); null clears it. */
  lastError?: string | null;
}

function splitScopes(value: string): string[] {
  return value === '' ? [] : value.split(',');
}

const numberOrNull = (value: number | null) => (value === null ? null : Number(value));

function parseProfile(json: string): AccountProfile {
  return JSON.parse(json) as AccountProfile;
}

export class ConnectionsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly vault: TokenVault,
    private readonly clock: Clock,
    private readonly schedule: Schedule,
    private readonly events: ConnectionEvents = NO_EVENTS,
  ) {}

  /**
   * Runs `work` as one write transaction, then tells the events side it committed. On SQLite it takes the
   * write lock up front, and a locked, full, restarting or unreachable database is ridden out by running
   * it again whole, until its deadline (then 503): a connect's token, already issued by the provider, is
   * not lost to a bad moment of the database. Callers that change connections inside a transaction of
   * their own (the provider's deletion callbacks) open it here.
   */
  async transaction<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    const result = await withWriteTransaction(this.db, work);
    if (this.events.enabled) this.events.committed();
    return result;
  }

  toConnection(row: ConnectionRow): Connection {
    const granted = splitScopes(row.granted_scopes);
    const requested = splitScopes(row.requested_scopes);
    const connection: Omit<Connection, 'nextAction'> = {
      id: row.id,
      userId: row.user_id,
      endUserId: row.end_user_id,
      provider: row.provider,
      accountId: row.account_id,
      subjectId: row.subject_id,
      profile: parseProfile(row.profile),
      grantedScopes: granted,
      requestedScopes: requested,
      declinedScopes: requested.filter((s) => !granted.includes(s)),
      status: row.status,
      statusReason: row.status_reason,
      tokenFingerprint: row.token_fingerprint,
      tokenIssuedAt: Number(row.token_issued_at),
      tokenExpiresAt: numberOrNull(row.token_expires_at),
      accessExpiresAt: numberOrNull(row.access_expires_at),
      connectedAt: Number(row.connected_at),
      updatedAt: Number(row.updated_at),
      lastRefreshedAt: numberOrNull(row.last_refreshed_at),
      lastRefreshOutcome: row.last_refresh_outcome,
      lastValidatedAt: numberOrNull(row.last_validated_at),
      lastValidationOutcome: row.last_validation_outcome,
      lastError: row.last_error,
      failureCount: Number(row.failure_count),
      backoffUntil: numberOrNull(row.backoff_until),
    };
    return { ...connection, nextAction: this.schedule.plan(connection) };
  }

  async listForUser(userId: string): Promise<Connection[]> {
    return (await repo.listOfUser(this.db, userId)).map((row) => this.toConnection(row));
  }

  async listAll(): Promise<Connection[]> {
    return (await repo.listAll(this.db)).map((row) => this.toConnection(row));
  }

  async get(id: string): Promise<Connection | undefined> {
    const row = await repo.findById(this.db, id);
    return row && this.toConnection(row);
  }

  /**
   * Stores freshly authorized accounts for one user, in one transaction. An account this user already
   * has is updated in place (new token, profile, permissions; same id); another user's connection of the
   * same account is never touched: it stays theirs.
   */
  async connect(input: ConnectInput): Promise<{ userId: string; connections: Connection[] }> {
    try {
      return await this.connectOnce(input);
    } catch (error) {
      // The same user authorized one account twice at the same moment (two tabs, maybe two instances):
      // both transactions found no row and inserted, and the unique key let one win. Once that row is
      // committed (the losing insert waited for it), a second attempt finds it and updates it.
      if (!isUniqueViolation(error)) throw error;
      return this.connectOnce(input);
    }
  }

  private async connectOnce(input: ConnectInput): Promise<{ userId: string; connections: Connection[] }> {
    const now = this.clock.now();
    return this.transaction(async (trx) => {
      const endUserId = input.endUserId ?? null;
      let userId = input.userId ?? (endUserId === null ? undefined : await findEndUser(trx, endUserId));
      if (!userId) {
        userId = randomUUID();
        await insertUser(trx, userId, now, endUserId);
      }
      const written: { id: string; created: boolean }[] = [];
      for (const account of input.accounts) {
        const owner = { userId, provider: input.provider, accountId: account.accountId };
        const existing = await repo.findOwned(trx, owner);
        const id = existing?.id ?? randomUUID();
        const fields = {
          subject_id: account.subjectId,
          profile: JSON.stringify(account.profile),
          granted_scopes: account.grantedScopes.join(','),
          requested_scopes: input.requestedScopes.join(','),
          status: 'active' as const,
          status_reason: null,
          ...this.vault.seal(id, account.token.accessToken),
          token_issued_at: now,
          token_expires_at: expiryOf(account.token, now),
          access_expires_at: account.accessExpiresAt ?? null,
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
        const next_action_at = this.nextActionAt({
          id,
          provider: input.provider,
          status: 'active',
          tokenIssuedAt: now,
          tokenExpiresAt: fields.token_expires_at,
          accessExpiresAt: fields.access_expires_at,
          lastValidatedAt: now,
          backoffUntil: null,
        });
        if (existing) {
          await repo.updateRow(trx, id, { ...fields, next_action_at });
        } else {
          await repo.insertRow(trx, {
            ...fields,
            next_action_at,
            id,
            user_id: userId,
            end_user_id: endUserId,
            provider: input.provider,
            account_id: account.accountId,
            connected_at: now,
          });
        }
        written.push({ id, created: !existing });
      }
      const connections: Connection[] = [];
      for (const { id, created } of written) {
        const row = await repo.findById(trx, id);
        if (!row) throw new Error('connection vanished inside its own transaction');
        const connection = this.toConnection(row);
        connections.push(connection);
        await this.events.record(trx, { type: created ? 'connection.created' : 'connection.updated', connection });
      }
      await input.inTransaction?.(trx, connections);
      return { userId, connections };
    });
  }

  /** The person disconnects one of their connections: the row and its token are deleted. Returns it. */
  async disconnect(userId: string, connectionId: string): Promise<Connection> {
    const [deleted] = await this.transaction((trx) => this.deleteRows(trx, [connectionId], 'user', userId));
    if (!deleted) throw new AppError('NOT_FOUND', 'no such connection for this user');
    return this.toConnection(deleted);
  }

  /** The deployer deletes a connection through the API: what Disconnect does. Returns it, if it existed. */
  async deleteById(connectionId: string): Promise<Connection | undefined> {
    const [deleted] = await this.transaction((trx) => this.deleteRows(trx, [connectionId], 'api'));
    return deleted && this.toConnection(deleted);
  }

  /** Whether the person (a provider's subject) still has a connection through that provider, for anyone. */
  async subjectHasConnections(provider: string, subjectId: string): Promise<boolean> {
    return repo.subjectHasConnections(this.db, provider, subjectId);
  }

  /**
   * The provider told us a person removed the app or asked for their data to be deleted: every connection
   * of that provider whose account or subject id matches goes, in the caller's transaction. With
   * `issuedBefore`, only tokens issued before it (a replayed callback never removes a connection made
   * again afterwards). With `removeUsersLeftEmpty`, users who own nothing afterwards go too.
   */
  async deleteByIdentity(
    trx: repo.Db,
    match: { provider: string; identity: string; issuedBefore?: number },
    reason: 'deauthorize' | 'data_deletion',
    options: { removeUsersLeftEmpty?: boolean } = {},
  ): Promise<number> {
    const ids = (await repo.findByIdentity(trx, match.provider, match.identity, match.issuedBefore)).map((r) => r.id);
    const deleted = await this.deleteRows(trx, ids, reason);
    if (options.removeUsersLeftEmpty) {
      // A user is only the owner of connections: with none left, nothing of them should remain.
      for (const userId of new Set(deleted.map((row) => row.user_id))) {
        if (!(await repo.userHasConnections(trx, userId))) await deleteUser(trx, userId);
      }
    }
    return deleted.length;
  }

  /**
   * Deletes rows (only the user's, with `userId`), reporting each with its state as it was deleted. Only
   * rows this transaction deleted are reported: two deletes of one connection at the same moment (two
   * instances) give one event and one "not found".
   */
  private async deleteRows(
    trx: repo.Db,
    ids: string[],
    reason: DeletionReason,
    userId?: string,
  ): Promise<ConnectionRow[]> {
    const rows = await repo.deleteByIds(trx, ids, userId);
    for (const row of rows) {
      await this.events.record(trx, { type: 'connection.deleted', connection: this.toConnection(row), reason });
    }
    return rows;
  }

  /** A page of connections for the API, oldest first; `after` is the previous page's `next`. */
  async page(filter: {
    endUserId?: string;
    status?: ConnectionStatus;
    limit: number;
    after?: string;
  }): Promise<ConnectionPage> {
    const rows = await repo.listPage(this.db, { ...filter, limit: filter.limit + 1 });
    const more = rows.length > filter.limit;
    const connections = rows.slice(0, filter.limit).map((row) => this.toConnection(row));
    const last = connections[connections.length - 1];
    return { connections, next: more && last ? last.id : null };
  }

  /**
   * A provider refused the token outside the keeper (an API call through the proxy, say): the connection
   * needs reconnecting, at once. Returns whether it changed (it may already be marked, or gone).
   */
  async markNeedsReconnect(connectionId: string, reason: string, detail: string | null): Promise<boolean> {
    const now = this.clock.now();
    return this.transaction(async (trx) => {
      const changed = await repo.markNeedsReconnect(trx, connectionId, { reason, detail, now });
      if (changed && this.events.enabled) {
        const row = await repo.findById(trx, connectionId);
        if (row) {
          await this.events.record(trx, {
            type: 'connection.needs_reconnect',
            connection: this.toConnection(row),
            reason,
          });
        }
      }
      return changed;
    });
  }

  // --- The keeper's side: claims, tokens, results -----------------------------------------------------

  async claimDue(options: {
    owner: string;
    now: number;
    leaseMs: number;
    limit: number;
    providers?: repo.ProviderFilter;
  }): Promise<ClaimedConnection[]> {
    return (await repo.claimDue(this.db, options)).map((row) => this.claimed(row));
  }

  /** One connection of a degraded provider to probe it with (src/incidents), due or not. */
  async claimProbe(options: {
    provider: string;
    owner: string;
    now: number;
    leaseMs: number;
  }): Promise<ClaimedConnection | undefined> {
    const row = await repo.claimProbe(this.db, options);
    return row && this.claimed(row);
  }

  async claimOne(options: {
    id: string;
    userId?: string;
    owner: string;
    now: number;
    leaseMs: number;
  }): Promise<ClaimedConnection | undefined> {
    const row = await repo.claimOne(this.db, options);
    return row && this.claimed(row);
  }

  releaseClaims(ids: string[], owner: string): Promise<void> {
    return repo.releaseLeases(this.db, ids, owner);
  }

  /** Whether a connection exists (for the person when `userId` is given), whatever its lease. */
  async exists(id: string, userId?: string): Promise<boolean> {
    const row = await repo.findById(this.db, id);
    return row !== undefined && (userId === undefined || row.user_id === userId);
  }

  /** The token in clear, for a call to its provider; it lives only in memory, for that call. */
  openToken(claim: ClaimedConnection): string {
    return this.vault.open(claim.connection.id, claim.sealed);
  }

  /**
   * A connection and its token in clear as stored right now, whatever its lease: for handing the token to
   * the deployer's backend or calling the provider with it. One read, so the two always belong together.
   */
  async readToken(id: string): Promise<{ connection: Connection; accessToken: string } | undefined> {
    const row = await repo.findById(this.db, id);
    if (!row) return undefined;
    const { connection, sealed } = this.claimed(row);
    return { connection, accessToken: this.vault.open(id, sealed) };
  }

  /**
   * Stores a keeper's result and releases its lease, only while `owner` still holds the lease: a keeper
   * whose lease lapsed never overwrites the newer work of the one that took over. Returns whether it did.
   */
  async recordResult(connection: Connection, owner: string, update: LifecycleUpdate): Promise<boolean> {
    const now = this.clock.now();
    const patch: Updateable<ConnectionsTable> = { updated_at: now };
    const after: ScheduleInput = { ...connection };
    if (update.token) {
      Object.assign(patch, this.vault.seal(connection.id, update.token.accessToken));
      patch.token_issued_at = after.tokenIssuedAt = now;
      patch.token_expires_at = after.tokenExpiresAt = expiryOf(update.token, now);
    }
    if (update.profile) patch.profile = JSON.stringify(update.profile);
    if (update.status) {
      patch.status = after.status = update.status.status;
      patch.status_reason = update.status.reason;
    }
    if (update.refresh) {
      patch.last_refresh_outcome = update.refresh.outcome;
      if (update.refresh.at !== undefined) patch.last_refreshed_at = update.refresh.at;
    }
    if (update.validation) {
      patch.last_validation_outcome = update.validation.outcome;
      if (update.validation.at !== undefined) patch.last_validated_at = after.lastValidatedAt = update.validation.at;
    }
    if (update.failure !== undefined) {
      patch.failure_count = update.failure?.count ?? 0;
      patch.backoff_until = after.backoffUntil = update.failure?.backoffUntil ?? null;
    }
    if (update.lastError !== undefined) patch.last_error = update.lastError;
    patch.next_action_at = this.nextActionAt(after);
    const type = eventOf(connection, update);
    if (!type || !this.events.enabled) return repo.finishLeased(this.db, connection.id, owner, patch);
    return this.transaction(async (trx) => {
      if (!(await repo.finishLeased(trx, connection.id, owner, patch))) return false;
      const row = await repo.findById(trx, connection.id);
      if (row) {
        const reason = type === 'connection.needs_reconnect' ? (update.status?.reason ?? undefined) : undefined;
        await this.events.record(trx, { type, connection: this.toConnection(row), reason });
      }
      return true;
    });
  }

  // --- Key rotation ------------------------------------------------------------------------------------

  /**
   * Re-seals one row's token under the ring's current key, as it was read. The update matches the old
   * key id and ciphertext, so a row the app rewrote meanwhile (a reconnect seals a new token) is left
   * alone and the answer is 'changed-meanwhile'. Throws DecryptionError for a token that cannot be opened.
   */
  async reseal(row: SealedRow): Promise<'rotated' | 'changed-meanwhile'> {
    const token = this.vault.open(row.id, { keyId: row.token_key_id, ciphertext: row.token_ciphertext });
    const { token_ciphertext, token_key_id } = this.vault.seal(row.id, token);
    const replaced = await repo.replaceSealed(this.db, row, { token_ciphertext, token_key_id });
    return replaced ? 'rotated' : 'changed-meanwhile';
  }

  private claimed(row: ConnectionRow): ClaimedConnection {
    return {
      connection: this.toConnection(row),
      sealed: { keyId: row.token_key_id, ciphertext: row.token_ciphertext },
    };
  }

  private nextActionAt(input: ScheduleInput): number | null {
    const next = this.schedule.plan(input);
    return next.kind === 'none' ? null : next.at;
  }
}

/** What a keeper's result means to the deployer's backend, if anything it should hear about. */
function eventOf(before: Connection, update: LifecycleUpdate): ConnectionEventType | undefined {
  if (update.status?.status === 'needs_reconnect' && before.status !== 'needs_reconnect') {
    return 'connection.needs_reconnect';
  }
  if (update.token) return 'connection.refreshed';
  if (update.profile && shownProfileChanged(before.profile, update.profile)) return 'connection.updated';
  return undefined;
}

/**
 * Whether the profile changed in what a connection shows the deployer (src/api/connection-resource.ts).
 * Counts such as followers move on nearly every validation: they are not part of the connection, and an
 * event for them would say nothing new.
 */
function shownProfileChanged(before: AccountProfile, after: AccountProfile): boolean {
  return (
    before.username !== after.username ||
    before.name !== after.name ||
    before.accountType !== after.accountType ||
    before.profilePictureUrl !== after.profilePictureUrl
  );
}

function expiryOf(token: IssuedToken, now: number): number | null {
  return token.expiresInSeconds === null ? null : now + token.expiresInSeconds * 1000;
}
