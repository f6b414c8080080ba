import { randomUUID } from 'node:crypto';
import type { LifecycleConfig } from '../config/config';
import type {
  ClaimedConnection,
  Connection,
  ConnectionsService,
  LifecycleUpdate,
} from '../connections/connections.service';
import type { ProviderWatch, Verdict } from '../incidents/provider-watch';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import { AppError, ProviderError } from '../shared/errors';
import type { HttpClient } from '../shared/http-client';
import type { Logger } from '../shared/logger';
import { DecryptionError } from '../shared/token-cipher';
import {
  DEFAULT_THROTTLE_BACKOFF_MS,
  decide,
  endOf,
  isExpired,
  type LifecycleOutcome,
  renewableNow,
  transientBackoffMs,
} from './lifecycle-policy';

export type LifecycleAction = 'refresh' | 'validate' | 'expire' | 'wait';

export interface LifecycleResult {
  connectionId: string;
  action: LifecycleAction;
  outcome: LifecycleOutcome | 'skipped' | 'lease_lost';
}

/**
 * Refreshes and validates one connection at a time, under a lease, through the provider its row names,
 * and records what happened through the connections writer. The keeper, the status page buttons and the
 * CLI all come through here. See CONTEXT.md.
 *
 * Crash safety of a refresh: the old token stays in its row until ONE UPDATE replaces it with the new
 * one (and the provider keeps the old token valid until its own expiry), so a process that dies after the
 * provider answered but before the UPDATE committed loses nothing: the row still holds a working token,
 * its lease lapses, and the next sweep refreshes again.
 */
export class LifecycleService {
  constructor(
    private readonly deps: {
      connections: ConnectionsService;
      providers: ProviderRegistry;
      http: HttpClient;
      clock: Clock;
      logger: Logger;
      settings: LifecycleConfig;
      /** Tells a connection's own failures from the provider's incidents (src/incidents); absent: all own. */
      watch?: ProviderWatch;
      /** Told every step's outcome with its reason (metrics). */
      onStep?: (step: { provider: string; action: LifecycleAction; outcome: string; reason: string }) => void;
    },
  ) {}

  /** Does whatever is due for a connection this owner has claimed, and releases the claim. */
  async process(claim: ClaimedConnection, owner: string, force?: 'refresh' | 'validate'): Promise<LifecycleResult> {
    const { connection } = claim;
    const { connections, clock, settings, logger } = this.deps;
    const provider = this.deps.providers.find(connection.provider);
    if (!provider) {
      // Its provider was unconfigured after it connected: nothing can be done until it comes back.
      await connections.releaseClaims([connection.id], owner);
      logger.warn({ connectionId: connection.id, provider: connection.provider }, 'provider not configured');
      return { connectionId: connection.id, action: 'wait', outcome: 'skipped' };
    }
    const now = clock.now();
    const action: LifecycleAction =
      connection.status === 'active' && isExpired(connection, now)
        ? 'expire'
        : (force ?? decide(connection, now, provider.tokens, settings));
    let update: LifecycleUpdate = {};
    let outcome: LifecycleResult['outcome'] = 'skipped';
    let reason = 'none';
    if (action === 'expire') {
      // An expired token (or lapsed data access) can never be renewed: no call to the provider, the
      // person must connect again.
      reason = endOf(connection)?.reason ?? 'expired';
      update = { status: { status: 'needs_reconnect', reason }, refresh: { outcome: 'expired' } };
      outcome = 'expired';
    } else if (action === 'refresh' || action === 'validate') {
      const { watch } = this.deps;
      const http = watch ? watch.clientFor(provider) : this.deps.http;
      try {
        const token = connections.openToken(claim);
        if (action === 'refresh') {
          const issued = await provider.refresh(http, token);
          update = { token: issued, refresh: { outcome: 'ok', at: now }, failure: null, lastError: null };
        } else {
          // Profile changes (a new username or picture) are picked up on every validation.
          const profile = await provider.fetchProfile(http, token, connection.accountId);
          update = { profile, validation: { outcome: 'ok', at: now }, failure: null, lastError: null };
        }
        outcome = 'ok';
        await watch?.succeeded(provider.id, now);
      } catch (error) {
        let verdict: Verdict = { kind: 'own' };
        if (watch && error instanceof ProviderError) {
          verdict = await watch
            .judge(provider, { id: connection.id, accountId: connection.accountId }, error)
            .catch((judgeError: unknown): Verdict => {
              // Without the evidence, a refused token is not taken as the connection's own this time.
              logger.warn({ err: judgeError, connectionId: connection.id }, 'could not judge a provider failure');
              return { kind: 'unconfirmed', signature: 'unjudged' };
            });
        }
        ({ update, outcome } = this.failure(claim, now, error, action, verdict));
        reason =
          verdict.kind === 'own' ? reasonOf(error) : verdict.kind === 'incident' ? 'app_degraded' : 'unconfirmed';
      }
    }
    const finished = await connections.recordResult(connection, owner, update);
    if (!finished) {
      // Our lease lapsed and another keeper (or a reconnect) took the row: its write wins. If we hold a
      // refreshed token, it is simply not kept; the stored one stays valid until its own expiry.
      logger.warn({ connectionId: connection.id, action }, 'lease lost before the result was stored');
      return { connectionId: connection.id, action, outcome: 'lease_lost' };
    }
    logger.info({ connectionId: connection.id, action, outcome }, 'connection lifecycle step');
    this.deps.onStep?.({ provider: provider.id, action, outcome, reason: outcome === 'ok' ? 'ok' : reason });
    return { connectionId: connection.id, action, outcome };
  }

  /** "Refresh now" / "Validate now" for one connection, from the status page or the CLI. */
  async runNow(kind: 'refresh' | 'validate', connectionId: string, userId?: string): Promise<LifecycleResult> {
    const { connections, clock, settings } = this.deps;
    const now = clock.now();
    const owner = `manual:${randomUUID()}`;
    const claim = await connections.claimOne({ id: connectionId, userId, owner, now, leaseMs: settings.leaseMs });
    if (!claim) {
      const exists = await connections.exists(connectionId, userId);
      throw exists ? new AppError('BUSY', 'another keeper is working on this connection') : new AppError('NOT_FOUND');
    }
    const refusal = this.refusal(kind, claim.connection, now);
    if (refusal) {
      await connections.releaseClaims([connectionId], owner);
      throw refusal;
    }
    return this.process(claim, owner, kind);
  }

  /**
   * After a connection was deleted: when it was the person's last connection through a provider that can
   * withdraw an app's authorization (Facebook), withdraw it there too. Never while the person still has
   * another connection through that provider, whoever holds it (withdrawing would kill those tokens).
   * Best effort: the connection is already gone here; a failure is logged for the operator.
   */
  async revokeIfLast(connection: Connection): Promise<void> {
    const provider = this.deps.providers.find(connection.provider);
    if (!provider?.revoke) return;
    if (await this.deps.connections.subjectHasConnections(connection.provider, connection.subjectId)) return;
    try {
      await provider.revoke(this.deps.http, connection.subjectId);
      this.deps.logger.info({ connectionId: connection.id, provider: provider.id }, 'app authorization withdrawn');
    } catch (error) {
      this.deps.logger.warn(
        {
          connectionId: connection.id,
          provider: provider.id,
          code: error instanceof AppError ? error.code : undefined,
        },
        'could not withdraw the app authorization at the provider',
      );
    }
  }

  /** Why a manual action cannot run now, if it cannot. An expired token goes through (it gets marked). */
  private refusal(kind: 'refresh' | 'validate', connection: Connection, now: number): AppError | undefined {
    if (connection.status !== 'active')
      return new AppError('NEEDS_RECONNECT', 'the connection needs reconnecting first');
    const provider = this.deps.providers.find(connection.provider);
    if (!provider) return new AppError('UNAVAILABLE', `provider "${connection.provider}" is not configured`);
    if (kind !== 'refresh' || isExpired(connection, now) || renewableNow(connection, now, provider.tokens)) {
      return undefined;
    }
    if (!provider.tokens.renewal) {
      return new AppError('NOT_RENEWABLE', `${provider.displayName} tokens cannot be renewed server-side`);
    }
    const hours = Math.round(provider.tokens.renewal.minAgeMs / 3_600_000);
    return new AppError('REFRESH_TOO_EARLY', `${provider.displayName} renews only tokens at least ${hours} hours old`);
  }

  /** What a failed refresh or validation means for the connection, as its provider classified it. */
  private failure(
    claim: ClaimedConnection,
    now: number,
    error: unknown,
    step: 'refresh' | 'validate',
    verdict: Verdict,
  ): { update: LifecycleUpdate; outcome: LifecycleOutcome } {
    const { connection } = claim;
    const count = connection.failureCount + 1;
    const recorded = (outcome: LifecycleOutcome) => ({ [step === 'refresh' ? 'refresh' : 'validation']: { outcome } });
    if (verdict.kind !== 'own') {
      // The provider's incident (or not yet known to be this connection's failure): nothing is marked
      // or shown as missing; the connection is looked at again at the next probe, or after backoff.
      const detail = error instanceof AppError ? (error.detail ?? error.code) : 'unexpected error';
      const why =
        verdict.kind === 'incident'
          ? 'not marked: the provider app is degraded (many connections fail the same way)'
          : "not marked yet: not known to be this connection's own failure";
      return {
        update: {
          ...recorded('unavailable'),
          lastError: `${detail} (${why})`,
          failure: {
            count,
            backoffUntil: verdict.kind === 'incident' ? verdict.retryAt : now + transientBackoffMs(count),
          },
        },
        outcome: 'unavailable',
      };
    }
    if (error instanceof ProviderError && error.failure.kind === 'reconnect') {
      // The token is dead: retrying cannot help; the person must connect again.
      return {
        update: {
          status: { status: 'needs_reconnect', reason: error.failure.reason },
          ...(step === 'validate' ? { validation: { outcome: 'token_invalid', at: now } } : recorded('token_invalid')),
          lastError: error.detail ?? null,
        },
        outcome: 'token_invalid',
      };
    }
    if (error instanceof ProviderError && error.failure.kind === 'permission' && step === 'validate') {
      // The token works but a permission was declined or removed: shown on the page, checked again later.
      return {
        update: { validation: { outcome: 'permission_missing', at: now }, lastError: error.detail ?? null },
        outcome: 'permission_missing',
      };
    }
    if (error instanceof ProviderError && error.failure.kind === 'throttled') {
      const wait = error.failure.retryAfterMs ?? DEFAULT_THROTTLE_BACKOFF_MS;
      return {
        update: {
          ...recorded('throttled'),
          lastError: error.detail ?? null,
          failure: { count, backoffUntil: now + wait },
        },
        outcome: 'throttled',
      };
    }
    if (error instanceof DecryptionError) {
      // A key missing from the ring, or a tampered row: report it, keep the row, look again later.
      const keyId = claim.sealed.keyId;
      this.deps.logger.error({ connectionId: connection.id, keyId }, 'stored token cannot be decrypted');
      return {
        update: {
          ...recorded('token_unreadable'),
          lastError: `stored token cannot be decrypted (key id "${keyId}"): ${error.message}`,
          failure: { count, backoffUntil: now + DEFAULT_THROTTLE_BACKOFF_MS },
        },
        outcome: 'token_unreadable',
      };
    }
    if (!(error instanceof ProviderError)) {
      this.deps.logger.error({ err: error, connectionId: connection.id, step }, 'unexpected lifecycle error');
    }
    // Transient (network, 5xx, odd responses, other refusals): retry with jittered exponential backoff.
    return {
      update: {
        ...recorded('unavailable'),
        lastError: error instanceof AppError ? (error.detail ?? error.code) : 'unexpected error',
        failure: { count, backoffUntil: now + transientBackoffMs(count) },
      },
      outcome: 'unavailable',
    };
  }
}

/** A short reason for metrics: the provider's classification, or what went wrong otherwise. */
function reasonOf(error: unknown): string {
  if (error instanceof ProviderError) return error.failure.reason;
  if (error instanceof DecryptionError) return 'token_unreadable';
  return 'unexpected';
}
