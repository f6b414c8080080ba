export interface SessionsTable {
  sid: string;
  sess: string;
  expires_at: number;
}
