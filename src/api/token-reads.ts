import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { timeOrderedId } from '../shared/time-ordered-id';

/**
 * The record of tokens handed out through the API: which key read which connection's token, when, and
 * whether igconnect renewed it first. Never the token itself. `npm run cli -- audit` shows it.
 */
export interface TokenReadRecord {
  id: string;
  api_key_id: string;
  /** The key's name when it still exists (keys are revoked, never deleted, but the record outlives rows). */
  api_key_name: string | null;
  connection_id: string;
  read_at: string;
  renewed: boolean;
}

export interface TokenRead {
  apiKeyId: string;
  connectionId: string;
  at: number;
  renewed: boolean;
}

/**
 * Records a read; settles once the record is committed (a token is handed out only after that).
 *
 * Reads recorded in the same turn of the event loop are committed together, in one INSERT of all their
 * rows (group commit): a commit writes every page it touched, and one row per commit wrote the same pages
 * over and over (BENCHMARKS.md). Each caller still waits for the commit that holds its own row, so
 * nothing is handed out unrecorded and nothing recorded is lost; a failed INSERT fails every read in it.
 */
export function recordTokenRead(db: Kysely<Database>, read: TokenRead): Promise<void> {
  let batch = batches.get(db);
  if (!batch) {
    batch = new ReadBatch(db);
    batches.set(db, batch);
  }
  return batch.add(read);
}

/** Rows per INSERT at most: well within SQLite's and PostgreSQL's limits on bound parameters. */
const MAX_ROWS = 500;
const batches = new WeakMap<Kysely<Database>, ReadBatch>();

class ReadBatch {
  private waiting: { read: TokenRead; settle: (error?: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly db: Kysely<Database>) {}

  add(read: TokenRead): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ read, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O callbacks of this turn: every read that arrived with this one joins its INSERT.
        setImmediate(() => this.commit());
      }
    });
  }

  private commit(): void {
    this.scheduled = false;
    const rows = this.waiting.splice(0, MAX_ROWS);
    if (this.waiting.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.commit());
    }
    this.db
      .insertInto('token_reads')
      .values(
        rows.map(({ read }) => ({
          id: timeOrderedId(read.at),
          api_key_id: read.apiKeyId,
          connection_id: read.connectionId,
          read_at: read.at,
          renewed: read.renewed ? 1 : 0,
        })),
      )
      .execute()
      .then(
        () => rows.forEach((row) => row.settle()),
        (error: unknown) => rows.forEach((row) => row.settle(error ?? new Error('the token read was not recorded'))),
      );
  }
}

/** The most recent reads first, of one connection or of all. */
export async function listTokenReads(
  db: Kysely<Database>,
  filter: { connectionId?: string; limit: number },
): Promise<TokenReadRecord[]> {
  const rows = await db
    .selectFrom('token_reads')
    .leftJoin('api_keys', 'api_keys.id', 'token_reads.api_key_id')
    .select([
      'token_reads.id',
      'token_reads.api_key_id',
      'api_keys.name as api_key_name',
      'token_reads.connection_id',
      'token_reads.read_at',
      'token_reads.renewed',
    ])
    .$if(filter.connectionId !== undefined, (q) =>
      q.where('token_reads.connection_id', '=', filter.connectionId as string),
    )
    .orderBy('token_reads.read_at', 'desc')
    .orderBy('token_reads.id', 'desc')
    .limit(filter.limit)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    api_key_id: row.api_key_id,
    api_key_name: row.api_key_name,
    connection_id: row.connection_id,
    read_at: new Date(Number(row.read_at)).toISOString(),
    renewed: Number(row.renewed) === 1,
  }));
}
