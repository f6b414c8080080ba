import type { Generated, Selectable } from 'kysely';

export type ConnectionStatus = 'active' | 'needs_reconnect';

/**
 * A linked Instagram professional account and its long-lived token (encrypted).
 * Ids are strings: Instagram's 17-digit ids do not survive a JavaScript number.
 */
export interface ConnectionsTable {
  id: string;
  user_id: string;
  provider: string;
  /** `id` from /me: the app-scoped user id (same number as the token response's user_id). */
  app_scoped_id: string;
  /** `user_id` from /me: the Instagram professional account id (17841…), used by webhooks and Graph calls. */
  ig_user_id: string;
  username: string;
  name: string | null;
  account_type: string | null;
  profile_picture_url: string | null;
  followers_count: number | null;
  media_count: number | null;
  /** Comma-separated, as granted by the person on the consent screen. */
  granted_scopes: string;
  requested_scopes: string;
  status: ConnectionStatus;
  status_reason: string | null;
  token_ciphertext: string;
  token_key_id: string;
  token_fingerprint: string;
  token_issued_at: number;
  token_expires_at: number;
  connected_at: number;
  updated_at: number;
  last_refreshed_at: number | null;
  /** A LifecycleOutcome (src/lifecycle/lifecycle-policy.ts). */
  last_refresh_outcome: string | null;
  last_validated_at: number | null;
  last_validation_outcome: string | null;
  /** For the deployer: what the last failure was (bounded, never a token). */
  last_error: string | null;
  failure_count: Generated<number>;
  backoff_until: number | null;
  /** When a keeper should look at this connection next; null when nothing is planned. */
  next_action_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
}

export type ConnectionRow = Selectable<ConnectionsTable>;
