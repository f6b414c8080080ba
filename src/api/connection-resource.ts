import type { Connection } from '../connections/connections.service';

/**
 * A connection as the deployer's backend sees it, in the API and in events (the same shape in both):
 * snake_case, ISO 8601 UTC times, exact string ids, never a token.
 */
export interface ConnectionResource {
  id: string;
  provider: string;
  end_user_id: string | null;
  /** The Instagram professional account id, whichever way the connection was made. */
  instagram_user_id: string;
  username: string;
  name: string | null;
  account_type: string | null;
  profile_picture_url: string | null;
  status: 'active' | 'needs_reconnect';
  status_reason: string | null;
  scopes_granted: string[];
  scopes_declined: string[];
  token_expires_at: string | null;
  token_refreshed_at: string | null;
  last_checked_at: string | null;
  created_at: string;
  updated_at: string;
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();
const isoOrNull = (epochMs: number | null) => (epochMs === null ? null : iso(epochMs));

export function connectionResource(c: Connection): ConnectionResource {
  return {
    id: c.id,
    provider: c.provider,
    end_user_id: c.endUserId,
    instagram_user_id: c.accountId,
    username: c.profile.username,
    name: c.profile.name,
    account_type: c.profile.accountType,
    profile_picture_url: c.profile.profilePictureUrl,
    status: c.status,
    status_reason: c.statusReason,
    scopes_granted: c.grantedScopes,
    scopes_declined: c.declinedScopes,
    token_expires_at: isoOrNull(c.tokenExpiresAt),
    token_refreshed_at: isoOrNull(c.lastRefreshedAt),
    last_checked_at: isoOrNull(c.lastValidatedAt),
    created_at: iso(c.connectedAt),
    updated_at: iso(c.updatedAt),
  };
}
