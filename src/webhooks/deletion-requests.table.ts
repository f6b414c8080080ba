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
