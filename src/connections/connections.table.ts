import type { Selectable } from 'kysely';

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
}

export type ConnectionRow = Selectable<ConnectionsTable>;
