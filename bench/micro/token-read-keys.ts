import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { timeOrderedId } from '../../src/shared/time-ordered-id';
import { round } from '../support/child-process';

/**
 * `node dist/bench/micro/token-read-keys.js [rows]`: what the key of a token-read record costs once the
 * table has grown (default 1,000,000 rows: months of reads kept by AUDIT_RETENTION_DAYS). The table and
 * its index as migration 0005 makes them, in a WAL file with synchronous=NORMAL as igconnect opens it;
 * rows are added in INSERTs of 16, as group commits of a busy turn write them (ADR 0012), keyed by random
 * (version 4) UUIDs and by time-ordered (version 7) ones. The figures are wall and CPU time per row: a
 * random key lands on a random page of the primary key's index, which the commit then writes whole.
 */
const ROWS = Number(process.argv[2] ?? '1000000');
const BATCH = 16;
const MEASURED = 3000;

const keys: [string, () => string][] = [
  ['random (version 4)', () => randomUUID()],
  ['time-ordered (version 7)', () => timeOrderedId(Date.now())],
];

const dir = mkdtempSync(join(tmpdir(), 'igconnect-token-read-keys-'));
try {
  for (const [name, key] of keys) {
    const file = join(dir, `${name.split(' ')[0]}.db`);
    const db = new SQLite(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(
      'create table token_reads (id text primary key, api_key_id text not null, connection_id text not null, ' +
        'read_at bigint not null, renewed integer not null); create index token_reads_read_at_idx on token_reads (read_at)',
    );
    const row = () => [key(), 'key_0123456789abcdef', randomUUID(), Date.now(), 0];
    const one = db.prepare(
      'insert into token_reads (id, api_key_id, connection_id, read_at, renewed) values (?, ?, ?, ?, ?)',
    );
    const fill = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) one.run(row());
    });
    for (let i = 0; i < ROWS; i += 10_000) fill(Math.min(10_000, ROWS - i));
    const group = db.prepare(
      `insert into token_reads (id, api_key_id, connection_id, read_at, renewed) values ${Array(BATCH).fill('(?, ?, ?, ?, ?)').join(', ')}`,
    );
    const commit = () => group.run(Array.from({ length: BATCH }, row).flat());
    for (let i = 0; i < 500; i++) commit();
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (let i = 0; i < MEASURED; i++) commit();
    const used = process.cpuUsage(cpu);
    const perRow = MEASURED * BATCH;
    process.stdout.write(
      `${name}, ${ROWS} rows before: ${round(((performance.now() - started) * 1000) / perRow, 1)} µs wall, ` +
        `${round((used.user + used.system) / perRow, 1)} µs CPU per row; file ${round(statSync(file).size / 1e6, 0)} MB\n`,
    );
    db.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
