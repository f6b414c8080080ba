/** Which database igconnect runs on, from DATABASE_URL (see src/db/create-db.ts, the only engine branch). */
export type DatabaseConfig =
  | {
      kind: 'sqlite';
      filename: string;
      /** How long a statement waits for another process's write lock (DATABASE_TIMEOUT_MS), on timers. */
      timeoutMs?: number;
    }
  | {
      kind: 'postgres';
      url: string;
      /** Most connections this process opens (DATABASE_POOL_MAX); instances × pool must fit max_connections. */
      poolMax: number;
      /** Deadline for getting a connection and for each statement (DATABASE_TIMEOUT_MS): an outage fails fast. */
      timeoutMs: number;
    };

/** `sqlite:<path>` or `postgres(ql)://…` with a host; undefined for anything else. */
export function parseDatabaseUrl(value: string, poolMax: number, timeoutMs: number): DatabaseConfig | undefined {
  if (value.startsWith('sqlite:')) {
    const filename = value.slice('sqlite:'.length).replace(/^\/\/(?=\.|\/)/, '');
    return filename === '' ? undefined : { kind: 'sqlite', filename, timeoutMs };
  }
  if (/^postgres(ql)?:\/\//.test(value)) {
    try {
      const url = new URL(value);
      return url.hostname === '' && !url.searchParams.has('host')
        ? undefined
        : { kind: 'postgres', url: value, poolMax, timeoutMs };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
