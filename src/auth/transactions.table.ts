/** One row per authorization attempt; the state itself is never stored, only its SHA-256. */
export interface OAuthTransactionsTable {
  state_hash: string;
  session_id: string;
  provider: string;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}
