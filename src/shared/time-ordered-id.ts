import { randomBytes } from 'node:crypto';

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids made in time order
 * sort in time order, so rows keyed by them are appended at the end of their index instead of landing
 * on a random page of it: for the token-read record, written on every API token read, a random UUID key
 * dirtied a different index page per row. Node 20's crypto has only random (version 4) UUIDs.
 */
export function timeOrderedId(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(Math.min(Math.max(0, Math.floor(now)), 2 ** 48 - 1), 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
