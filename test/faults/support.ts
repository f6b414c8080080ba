import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { parseEncryptionKeys } from '../../src/config/config';
import { tokenAad } from '../../src/connections/token-vault';
import type { Database } from '../../src/db/schema';
import { TokenCipher, tokenFingerprint } from '../../src/shared/token-cipher';

/**
 * What every fault scenario shares: how it reports (each run prints what it did and what it found, and
 * leaves its figures in test-results/faults/<scenario>.json for docs/reliability.md), and how it checks
 * the database afterwards.
 */
const ROOT = join(__dirname, '../..');

export interface ScenarioReport {
  scenario: string;
  did: string[];
  found: Record<string, string | number | boolean>;
}

export function report(entry: ScenarioReport): void {
  const lines = [
    `== fault scenario: ${entry.scenario}`,
    ...entry.did.map((line) => `   did:   ${line}`),
    ...Object.entries(entry.found).map(([key, value]) => `   found: ${key} = ${String(value)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const dir = join(ROOT, 'test-results', 'faults');
  mkdirSync(dir, { recursive: true });
  const file = entry.scenario.replace(/[^A-Za-z0-9_-]+/g, '-').toLowerCase();
  writeFileSync(join(dir, `${file}.json`), `${JSON.stringify({ ...entry, at: new Date().toISOString() }, null, 2)}\n`);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export const round1 = (n: number) => Math.round(n * 10) / 10;

/** SQLite's own check of every page and index; "ok" when the file is whole. */
export function sqliteIntegrity(file: string): string {
  // Opened read-write: a crashed writer's WAL is recovered on open, as the next app start would.
  const db = new SQLite(file);
  try {
    const result = db.pragma('integrity_check', { simple: true });
    const foreignKeys = db.pragma('foreign_key_check') as unknown[];
    return result === 'ok' && foreignKeys.length === 0
      ? 'ok'
      : `${String(result)}; foreign keys: ${foreignKeys.length}`;
  } finally {
    db.close();
  }
}

export interface RowFindings {
  connections: number;
  undecryptable: string[];
  /** Rows whose parts disagree: fingerprint, times, lease, owner, status. */
  halfWritten: string[];
  tokens: Map<string, string>;
}

/**
 * Every connection row, checked whole: its token decrypts under its own row id, its fingerprint is the
 * token's, its times and lease are consistent, its user exists. Returns the clear tokens by row id.
 */
export async function checkRows(db: Kysely<Database>, encryptionKeys: string): Promise<RowFindings> {
  const cipher = new TokenCipher(parseEncryptionKeys(encryptionKeys).keys);
  const rows = await db.selectFrom('connections').selectAll().execute();
  const users = new Set((await db.selectFrom('users').select('id').execute()).map((u) => u.id));
  const findings: RowFindings = { connections: rows.length, undecryptable: [], halfWritten: [], tokens: new Map() };
  for (const row of rows) {
    let token: string;
    try {
      token = cipher.open({ keyId: row.token_key_id, ciphertext: row.token_ciphertext }, tokenAad(row.id));
    } catch {
      findings.undecryptable.push(row.id);
      continue;
    }
    findings.tokens.set(row.id, token);
    const problems = [
      tokenFingerprint(token) !== row.token_fingerprint && 'fingerprint',
      row.token_expires_at !== null && !(Number(row.token_expires_at) > Number(row.token_issued_at)) && 'times',
      (row.lease_owner === null) !== (row.lease_until === null) && 'lease',
      !users.has(row.user_id) && 'user',
      !['active', 'needs_reconnect'].includes(row.status) && 'status',
    ].filter(Boolean);
    if (problems.length > 0) findings.halfWritten.push(`${row.id}: ${problems.join(',')}`);
  }
  for (const session of await db.selectFrom('sessions').select(['sid', 'sess']).execute()) {
    try {
      JSON.parse(session.sess);
    } catch {
      findings.halfWritten.push(`session ${session.sid.slice(0, 6)}…: unparsable`);
    }
  }
  return findings;
}

/** Tokens the sandbox does not accept on GET /me (Bearer), by row id. */
export async function rejectedTokens(sandboxUrl: string, tokens: Map<string, string>): Promise<string[]> {
  const rejected: string[] = [];
  const entries = [...tokens];
  for (let i = 0; i < entries.length; i += 16) {
    await Promise.all(
      entries.slice(i, i + 16).map(async ([id, token]) => {
        const me = await fetch(`${sandboxUrl}/graph/v25.0/me?fields=user_id`, {
          headers: { authorization: `Bearer ${token}` },
        });
        if (me.status !== 200) rejected.push(id);
      }),
    );
  }
  return rejected;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One GET timed from the first byte sent to the last received, on a connection of its own. */
export async function timedGet(url: string, timeoutMs = 30_000): Promise<{ status: number; ms: number; text: string }> {
  const started = performance.now();
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    return { status: response.status, ms: performance.now() - started, text };
  } catch {
    return { status: 0, ms: performance.now() - started, text: '' };
  }
}
