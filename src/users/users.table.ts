export interface UsersTable {
  id: string;
  created_at: number;
}
