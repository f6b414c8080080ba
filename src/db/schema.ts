import type { Generated, Selectable } from 'kysely';

/**
 * The whole schema, one interface per table, and `Database`, their union. The tables live here rather
 * than beside each feature so that the features import the database layer and never the other way round.
 * Times are epoch milliseconds (bigint); ids from providers are exact decimal strings (a 17-digit id does
 * not survive a JavaScript number).
 */
export interface Database {
  users: UsersTable;
  connections: ConnectionsTable;
  sessions: SessionsTable;
  oauth_transactions: OAuthTransactionsTable;
  deletion_requests: DeletionRequestsTable;
  rate_limits: RateLimitsTable;
  api_keys: ApiKeysTable;
  connect_sessions: ConnectSessionsTable;
  token_reads: TokenReadsTable;
  events: EventsTable;
  pending_choices: PendingChoicesTable;
  provider_state: ProviderStateTable;
  provider_failures: ProviderFailuresTable;
  provider_calls: ProviderCallsTable;
}

/**
 * Whoever owns connections: a person who connected from the home page (created by their first
 * connection, `end_user_id` null), or one of the deployer's users, known by the deployer's opaque id.
 */
export interface UsersTable {
  id: string;
  created_at: number;
  end_user_id: string | null;
}

export type ConnectionStatus = 'active' | 'needs_reconnect';

/**
 * A linked account and its token (encrypted). Its identity is (user, provider, provider account id):
 * the same provider account connected by two users is two connections, each with its own token.
 */
export interface ConnectionsTable {
  id: string;
  user_id: string;
  /** The deployer's id of the owner (copied from the user, never changes); null for home-page users. */
  end_user_id: string | null;
  provider: string;
  /** The account's id at the provider (for both Meta providers, the Instagram professional account id). */
  account_id: string;
  /** The person who authorized, as the provider identifies them to this app (an app-scoped user id). */
  subject_id: string;
  /** The account's profile (AccountProfile) as JSON: one value, whatever fields the provider gives. */
  profile: string;
  /** Comma-separated, as granted on the consent screen. */
  granted_scopes: string;
  requested_scopes: string;
  status: ConnectionStatus;
  status_reason: string | null;
  token_ciphertext: string;
  token_key_id: string;
  token_fingerprint: string;
  token_issued_at: number;
  /** Null for tokens that never expire. */
  token_expires_at: number | null;
  /** When the person's grant of data access lapses (Facebook Login's 90 days); null without such a limit. */
  access_expires_at: number | null;
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

export interface SessionsTable {
  sid: string;
  sess: string;
  expires_at: number;
}

/** One row per authorization attempt; the state itself is never stored, only its SHA-256. */
export interface OAuthTransactionsTable {
  state_hash: string;
  session_id: string;
  provider: string;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  /** The connect link this flow was opened through; null for a flow started on the home page. */
  connect_session_id: string | null;
}

/** Meta's data-deletion requests: enough to answer the status page, no personal data. */
export interface DeletionRequestsTable {
  confirmation_code: string;
  /** SHA-256 of the signed_request: a replayed request finds its first answer. */
  request_hash: string;
  status: 'completed';
  deleted_connections: number;
  requested_at: number;
  completed_at: number | null;
}

/**
 * One row per (route group, client address, window): the requests counted in that window. Kept in the
 * database so every instance shares one count; rows whose window has passed are swept, never read.
 */
export interface RateLimitsTable {
  /** `<group>|<client ip>|<window start>`. */
  bucket: string;
  count: number;
  /** When the window ends (epoch ms); the row is useless after this. */
  expires_at: number;
}

/** Keys for the deployer's API: only a SHA-256 of each key is kept. */
export interface ApiKeysTable {
  id: string;
  name: string;
  key_hash: string;
  created_at: number;
  revoked_at: number | null;
}

/** A connect link for one of the deployer's users: only a SHA-256 of the link's secret is kept. */
export interface ConnectSessionsTable {
  id: string;
  secret_hash: string;
  api_key_id: string;
  end_user_id: string;
  provider: string;
  return_url: string | null;
  created_at: number;
  expires_at: number;
  /** Set by the connect that used the link; a used link is gone. */
  completed_at: number | null;
}

/** Who read which connection's token, when (never the token). */
export interface TokenReadsTable {
  id: string;
  api_key_id: string;
  connection_id: string;
  read_at: number;
  /** 1 when the read renewed the token first. */
  renewed: number;
}

/** The outbox of signed events, written in the transaction of the change each reports. */
export interface EventsTable {
  id: string;
  connection_id: string;
  seq: number;
  type: string;
  /** The JSON body delivered, exactly. */
  payload: string;
  created_at: number;
  attempts: Generated<number>;
  next_attempt_at: number | null;
  delivered_at: number | null;
  failed_at: number | null;
  last_error: string | null;
  lease_owner: string | null;
  lease_until: number | null;
}

/** An authorization waiting for the person to pick accounts: its accounts and tokens sealed as one value. */
export interface PendingChoicesTable {
  id: string;
  session_id: string;
  provider: string;
  key_id: string;
  payload: string;
  created_at: number;
  expires_at: number;
}

/** A provider as a whole (src/incidents), one row per provider, shared by every instance. */
export interface ProviderStateTable {
  provider: string;
  /** Set while many connections fail the same way: the app is degraded, not the connections. */
  degraded_since: number | null;
  degraded_signature: string | null;
  /** One of the failures, for the operator (bounded, never a token). */
  degraded_detail: string | null;
  /** While degraded: when a keeper may probe next (claimed with a conditional UPDATE). */
  probe_at: number | null;
  /** The highest rate-budget usage the provider reported on its last answer, percent. */
  usage_percent: number | null;
  usage_at: number | null;
  /** No keeper claims and no proxied call for this provider before this (usage too high, app throttled). */
  paused_until: number | null;
  pause_reason: string | null;
  /** The daily self-check: when it last ran (claimed with a conditional UPDATE) and what it found (JSON). */
  canary_at: number | null;
  canary_report: string | null;
  updated_at: number;
}

/** A connection that failed with a signature lately; rows older than the incident window are swept. */
export interface ProviderFailuresTable {
  provider: string;
  signature: string;
  connection_id: string;
  first_at: number;
  last_at: number;
}

/** Successful calls per provider in 10-second buckets, added to in batches by each process. */
export interface ProviderCallsTable {
  provider: string;
  bucket: number;
  successes: number;
}
