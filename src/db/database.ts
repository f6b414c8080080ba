import type { ConnectionsTable } from '../connections/connections.table';
import type { OAuthTransactionsTable } from '../auth/transactions.table';
import type { RateLimitsTable } from '../http/rate-limits.table';
import type { SessionsTable } from '../http/sessions.table';
import type { UsersTable } from '../users/users.table';
import type { DeletionRequestsTable } from '../webhooks/deletion-requests.table';

/** The whole schema: the union of every feature's tables. Times are epoch milliseconds (bigint). */
export interface Database {
  users: UsersTable;
  connections: ConnectionsTable;
  sessions: SessionsTable;
  oauth_transactions: OAuthTransactionsTable;
  deletion_requests: DeletionRequestsTable;
  rate_limits: RateLimitsTable;
}
