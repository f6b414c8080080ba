import { randomUUID } from 'node:crypto';
import type { Connection, ConnectionsService } from '../connections/connections.service';
import { isExpired, renewableNow } from '../lifecycle/lifecycle-policy';
import type { LifecycleService } from '../lifecycle/lifecycle.service';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';

/**
 * A connection's token for the deployer's backend, renewed first when it would expire too soon.
 *
 * Renewal goes through the keeper's own path: the connection's lease (`claimOne`, one conditional UPDATE
 * in the shared database) and `LifecycleService.process`, which calls the provider, records the result
 * and emits `connection.refreshed`. So however many callers on however many instances ask at once, one
 * holds the lease and renews; the others wait for the lease to be released (polling the row, never
 * blocking the event loop), read the renewed token, and never call the provider themselves. Decisions
 * use igconnect's own records and clock.
 */
export type TokenRead =
  | { kind: 'token'; connection: Connection; accessToken: string; renewed: boolean }
  | { kind: 'needs_reconnect'; connection: Connection }
  | { kind: 'not_found' };

export interface TokenAccessDeps {
  connections: ConnectionsService;
  lifecycle: LifecycleService;
  providers: ProviderRegistry;
  clock: Clock;
  /** The lease a renewal holds (the keeper's KEEPER_LEASE_SECONDS). */
  leaseMs: number;
  /** How long a caller waits for another holder of the lease before answering the still-valid token. */
  waitMs: number;
}

/** Pauses between looks at a row another holder is renewing: short at first, since a renewal is quick. */
const FIRST_PAUSE_MS = 10;
const MAX_PAUSE_MS = 200;

// Real time, not the injected clock: the wait is for another process's work, which a test's manual clock
// does not measure.
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class TokenAccess {
  constructor(private readonly deps: TokenAccessDeps) {}

  /**
   * The token, renewed first when it would expire within `minTtlMs` and its provider renews it now. A
   * renewal refused for a passing reason (the provider down, throttling) leaves the still-valid token,
   * which is answered: the caller sees its expiry. An expired token (by our clock) is marked through the
   * lifecycle, so its event is emitted, and answers `needs_reconnect`.
   */
  async read(id: string, minTtlMs: number): Promise<TokenRead> {
    const { connections, clock } = this.deps;
    const started = performance.now();
    let wait = FIRST_PAUSE_MS;
    // Set once this caller has run a renewal itself: whatever its outcome, it never runs a second one.
    let attempted = false;
    let renewed = false;
    for (;;) {
      const current = await connections.readToken(id);
      if (!current) return { kind: 'not_found' };
      const { connection } = current;
      const now = clock.now();
      if (connection.status !== 'active') return { kind: 'needs_reconnect', connection };
      if (isExpired(connection, now)) {
        await this.markExpired(id);
        return { kind: 'needs_reconnect', connection: { ...connection, statusReason: 'expired' } };
      }
      if (attempted || !this.renewalDue(connection, now, minTtlMs)) return { kind: 'token', ...current, renewed };

      const owner = `api:${randomUUID()}`;
      const claim = await connections.claimOne({ id, owner, now, leaseMs: this.deps.leaseMs });
      if (claim) {
        // Decide again on the row as the lease found it: the previous holder may have just renewed it.
        attempted = true;
        if (claim.connection.status === 'active' && this.renewalDue(claim.connection, now, minTtlMs)) {
          renewed = (await this.deps.lifecycle.process(claim, owner, 'refresh')).outcome === 'ok';
        } else {
          await connections.releaseClaims([id], owner);
        }
        continue;
      }
      // Someone else holds the lease (a keeper, another caller here or on another instance): it is
      // renewing or checking the token right now. Look again shortly; after the deadline, the token
      // as it stands is still valid and is answered.
      if (performance.now() - started + wait > this.deps.waitMs) return { kind: 'token', ...current, renewed };
      await pause(wait);
      wait = Math.min(wait * 2, MAX_PAUSE_MS);
    }
  }

  /** Whether the token would expire within `minTtlMs` and its provider would renew it now. */
  private renewalDue(connection: Connection, now: number, minTtlMs: number): boolean {
    if (connection.tokenExpiresAt === null || connection.tokenExpiresAt - now >= minTtlMs) return false;
    const provider = this.deps.providers.find(connection.provider);
    if (!provider || !renewableNow(connection, now, provider.tokens)) return false;
    // After a failed renewal the keeper's backoff applies here too: callers do not hammer a provider
    // that is down or throttling; they get the still-valid token meanwhile.
    return connection.backoffUntil === null || connection.backoffUntil <= now;
  }

  /** Marks an expired connection the way the keeper does (its event included), unless a holder does. */
  private async markExpired(id: string): Promise<void> {
    const owner = `api:${randomUUID()}`;
    const now = this.deps.clock.now();
    const claim = await this.deps.connections.claimOne({ id, owner, now, leaseMs: this.deps.leaseMs });
    if (!claim) return;
    if (claim.connection.status === 'active' && isExpired(claim.connection, now)) {
      await this.deps.lifecycle.process(claim, owner);
    } else {
      // Reconnected (or marked) since it was read: nothing left to mark.
      await this.deps.connections.releaseClaims([id], owner);
    }
  }
}
