import { randomUUID } from 'node:crypto';
import type { Kysely, Updateable } from 'kysely';
import type { LifecycleConfig } from '../config/config';
import { tokenAad } from '../connections/connections.service';
import type { ConnectionRow, ConnectionsTable } from '../connections/connections.table';
import type { Database } from '../db/database';
import type { ProviderDefinition } from '../providers/provider-definition';
import type { Clock } from '../shared/clock';
import { AppError, ProviderError } from '../shared/errors';
import type { HttpClient } from '../shared/http-client';
import type { Logger } from '../shared/logger';
import { DecryptionError, type TokenCipher, tokenFingerprint } from '../shared/token-cipher';
import { claimOne, finishLeased } from './lifecycle.repository';
import {
  DEFAULT_THROTTLE_BACKOFF_MS,
  decide,
  type LifecycleOutcome,
  lifecycleState,
  MIN_REFRESH_AGE_MS,
  nextActionAt,
  reconnectReason,
  transientBackoffMs,
} from './lifecycle-policy';

export type LifecycleAction = 'refresh' | 'validate' | 'expire' | 'wait';

export interface LifecycleResult {
  connectionId: string;
  action: LifecycleAction;
  outcome: LifecycleOutcome | 'skipped' | 'lease_lost';
}

/**
 * Refreshes and validates one connection at a time, under a lease, and records what happened. The
 * keeper, the status page buttons and the CLI all come through here.
 *
 * Crash safety of a refresh: the old token stays in its row until ONE UPDATE replaces it with the new
 * one (and Instagram keeps the old token valid until its own expiry), so a process that dies after
 * Instagram answered but before the UPDATE committed loses nothing: the row still holds a working token,
 * its lease lapses, and the next sweep refreshes again.
 */
export class LifecycleService {
  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      provider: ProviderDefinition;
      http: HttpClient;
      cipher: TokenCipher;
      clock: Clock;
      logger: Logger;
      settings: LifecycleConfig;
    },
  ) {}

  /** Does whatever is due for a row this owner has claimed, and releases the claim. */
  async process(row: ConnectionRow, owner: string, force?: 'refresh' | 'validate'): Promise<LifecycleResult> {
    const now = this.deps.clock.now();
    const state = lifecycleState(row);
    const action: LifecycleAction =
      state.status === 'active' && now >= state.tokenExpiresAt
        ? 'expire'
        : (force ?? decide(state, now, this.deps.settings));
    let patch: Updateable<ConnectionsTable>;
    let outcome: LifecycleResult['outcome'];
    switch (action) {
      case 'expire':
        // An expired token can never be refreshed: no call to Instagram, the person must connect again.
        patch = { status: 'needs_reconnect', status_reason: 'expired', last_refresh_outcome: 'expired' };
        outcome = 'expired';
        break;
      case 'refresh':
        ({ patch, outcome } = await this.refresh(row, now));
        break;
      case 'validate':
        ({ patch, outcome } = await this.validate(row, now));
        break;
      default:
        patch = {};
        outcome = 'skipped';
    }
    const merged = { ...row, ...patch } as ConnectionRow;
    const finished = await finishLeased(this.deps.db, row.id, owner, {
      ...patch,
      updated_at: now,
      next_action_at: nextActionAt(lifecycleState(merged), this.deps.settings),
    });
    if (!finished) {
      // Our lease lapsed and another keeper (or a reconnect) took the row: its write wins. If we hold a
      // refreshed token, it is simply not kept; the stored one stays valid until its own expiry.
      this.deps.logger.warn({ connectionId: row.id, action }, 'lease lost before the result was stored');
      return { connectionId: row.id, action, outcome: 'lease_lost' };
    }
    this.deps.logger.info({ connectionId: row.id, action, outcome }, 'connection lifecycle step');
    return { connectionId: row.id, action, outcome };
  }

  /** "Refresh now" / "Validate now" for one connection, from the status page or the CLI. */
  async runNow(kind: 'refresh' | 'validate', connectionId: string, userId?: string): Promise<LifecycleResult> {
    const now = this.deps.clock.now();
    const owner = `manual:${randomUUID()}`;
    const row = await claimOne(this.deps.db, {
      id: connectionId,
      userId,
      owner,
      now,
      leaseMs: this.deps.settings.leaseMs,
    });
    if (!row) {
      const exists = await this.deps.db
        .selectFrom('connections')
        .select('id')
        .where('id', '=', connectionId)
        .$if(userId !== undefined, (q) => q.where('user_id', '=', userId as string))
        .executeTakeFirst();
      throw exists ? new AppError('BUSY', 'another keeper is working on this connection') : new AppError('NOT_FOUND');
    }
    if (row.status !== 'active') {
      await finishLeased(this.deps.db, row.id, owner, {});
      throw new AppError('NEEDS_RECONNECT', 'the connection needs reconnecting first');
    }
    if (
      kind === 'refresh' &&
      now - Number(row.token_issued_at) < MIN_REFRESH_AGE_MS &&
      now < Number(row.token_expires_at)
    ) {
      await finishLeased(this.deps.db, row.id, owner, {});
      throw new AppError('REFRESH_TOO_EARLY', 'Instagram refreshes only tokens at least 24 hours old');
    }
    return this.process(row, owner, kind);
  }

  private openToken(row: ConnectionRow): string {
    return this.deps.cipher.open({ keyId: row.token_key_id, ciphertext: row.token_ciphertext }, tokenAad(row.id));
  }

  private async refresh(row: ConnectionRow, now: number) {
    try {
      const issued = await this.deps.provider.refresh(this.deps.http, this.openToken(row));
      const sealed = this.deps.cipher.seal(issued.accessToken, tokenAad(row.id));
      const patch: Updateable<ConnectionsTable> = {
        token_ciphertext: sealed.ciphertext,
        token_key_id: sealed.keyId,
        token_fingerprint: tokenFingerprint(issued.accessToken),
        token_issued_at: now,
        token_expires_at: now + issued.expiresInSeconds * 1000,
        last_refreshed_at: now,
        last_refresh_outcome: 'ok',
        last_error: null,
        failure_count: 0,
        backoff_until: null,
      };
      return { patch, outcome: 'ok' as const };
    } catch (error) {
      return this.failure(row, now, error, 'refresh');
    }
  }

  private async validate(row: ConnectionRow, now: number) {
    try {
      const profile = await this.deps.provider.fetchProfile(this.deps.http, this.openToken(row));
      // Profile changes (a new username or picture) are picked up on every validation.
      const patch: Updateable<ConnectionsTable> = {
        username: profile.username,
        name: profile.name,
        account_type: profile.accountType,
        profile_picture_url: profile.profilePictureUrl,
        followers_count: profile.followersCount,
        media_count: profile.mediaCount,
        last_validated_at: now,
        last_validation_outcome: 'ok',
        last_error: null,
        failure_count: 0,
        backoff_until: null,
      };
      return { patch, outcome: 'ok' as const };
    } catch (error) {
      return this.failure(row, now, error, 'validate');
    }
  }

  private failure(
    row: ConnectionRow,
    now: number,
    error: unknown,
    step: 'refresh' | 'validate',
  ): { patch: Updateable<ConnectionsTable>; outcome: LifecycleOutcome } {
    const outcomeColumn = step === 'refresh' ? 'last_refresh_outcome' : 'last_validation_outcome';
    const failures = row.failure_count + 1;
    if (error instanceof ProviderError && error.code === 'PROVIDER_TOKEN_INVALID') {
      // Graph 190: retrying cannot help; the person must connect again.
      return {
        patch: {
          status: 'needs_reconnect',
          status_reason: reconnectReason(error.graph?.subcode),
          [outcomeColumn]: 'token_invalid',
          last_error: error.detail ?? null,
          ...(step === 'validate' ? { last_validated_at: now } : {}),
        },
        outcome: 'token_invalid',
      };
    }
    if (error instanceof ProviderError && error.code === 'PROVIDER_PERMISSION' && step === 'validate') {
      // The token works but a permission was declined or removed: shown on the page, checked again later.
      return {
        patch: { [outcomeColumn]: 'permission_missing', last_error: error.detail ?? null, last_validated_at: now },
        outcome: 'permission_missing',
      };
    }
    if (error instanceof ProviderError && error.code === 'PROVIDER_THROTTLED') {
      const wait = error.graph?.retryAfterMs ?? DEFAULT_THROTTLE_BACKOFF_MS;
      return {
        patch: {
          [outcomeColumn]: 'throttled',
          last_error: error.detail ?? null,
          failure_count: failures,
          backoff_until: now + wait,
        },
        outcome: 'throttled',
      };
    }
    if (error instanceof DecryptionError) {
      // A key missing from the ring, or a tampered row: report it, keep the row, look again later.
      this.deps.logger.error({ connectionId: row.id, keyId: row.token_key_id }, 'stored token cannot be decrypted');
      return {
        patch: {
          [outcomeColumn]: 'token_unreadable',
          last_error: `stored token cannot be decrypted (key id "${row.token_key_id}"): ${error.message}`,
          failure_count: failures,
          backoff_until: now + DEFAULT_THROTTLE_BACKOFF_MS,
        },
        outcome: 'token_unreadable',
      };
    }
    if (!(error instanceof ProviderError)) {
      this.deps.logger.error({ err: error, connectionId: row.id, step }, 'unexpected lifecycle error');
    }
    // Transient (Graph 1/2, 5xx, timeouts, odd responses): retry with jittered exponential backoff.
    return {
      patch: {
        [outcomeColumn]: 'unavailable',
        last_error: error instanceof AppError ? (error.detail ?? error.code) : 'unexpected error',
        failure_count: failures,
        backoff_until: now + transientBackoffMs(failures),
      },
      outcome: 'unavailable',
    };
  }
}
