import { createHmac, timingSafeEqual } from 'node:crypto';
import { isLosslessNumber, parse } from 'lossless-json';
import { AppError } from '../shared/errors';

/**
 * Verifies Meta's `signed_request` (deauthorize and data-deletion callbacks) strictly, in this order:
 * shape (two non-empty base64url parts, bounded), a 32-byte signature, HMAC-SHA256 over the still-encoded
 * payload with the app secret compared in constant time, and only then the payload: a JSON object with
 * algorithm HMAC-SHA256, a fresh `issued_at`, and a user id (parsed losslessly: it may be a 17-digit number).
 */
export interface SignedRequest {
  userId: string;
  issuedAt: number;
  /** Which of the candidate secrets signed it (its position in the list). */
  secretIndex: number;
}

const PART = /^[A-Za-z0-9_-]+={0,2}$/;
const MAX_LENGTH = 4096;
const FUTURE_SKEW_MS = 5 * 60_000;

/**
 * Which secret Meta signs with is not documented consistently, so a receiver may name several candidate
 * secrets, in order; each is compared in constant time and the first that matches wins.
 */
export function verifySignedRequest(
  value: unknown,
  secrets: readonly string[],
  now: number,
  maxAgeMs: number,
): SignedRequest {
  if (typeof value !== 'string') throw new AppError('BAD_REQUEST', 'signed_request must be given exactly once');
  if (value.length > MAX_LENGTH) throw new AppError('BAD_REQUEST', 'signed_request is too long');
  const parts = value.split('.');
  const [signaturePart, payloadPart] = parts;
  if (parts.length !== 2 || !signaturePart || !payloadPart || !PART.test(signaturePart) || !PART.test(payloadPart)) {
    throw new AppError('BAD_REQUEST', 'signed_request must be two base64url parts joined by a dot');
  }
  const signature = Buffer.from(signaturePart, 'base64url');
  // timingSafeEqual throws on unequal lengths: check first, and answer a short signature with a 4xx.
  if (signature.length !== 32) throw new AppError('WEBHOOK_REJECTED', 'signature is not 32 bytes');
  const secretIndex = secrets.findIndex((secret) =>
    timingSafeEqual(signature, createHmac('sha256', secret).update(payloadPart).digest()),
  );
  if (secretIndex === -1) throw new AppError('WEBHOOK_REJECTED', 'signature does not match');

  let payload: unknown;
  try {
    payload = parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
  } catch {
    throw new AppError('BAD_REQUEST', 'payload is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new AppError('BAD_REQUEST', 'payload is not a JSON object');
  }
  const fields = payload as Record<string, unknown>;
  if (typeof fields.algorithm !== 'string' || fields.algorithm.toUpperCase() !== 'HMAC-SHA256') {
    throw new AppError('WEBHOOK_REJECTED', 'algorithm must be HMAC-SHA256');
  }
  const issuedAtRaw = isLosslessNumber(fields.issued_at) ? Number(fields.issued_at.value) : fields.issued_at;
  if (typeof issuedAtRaw !== 'number' || !Number.isSafeInteger(issuedAtRaw)) {
    throw new AppError('BAD_REQUEST', 'issued_at must be a whole number of seconds');
  }
  const issuedAt = issuedAtRaw * 1000;
  if (now - issuedAt > maxAgeMs || issuedAt - now > FUTURE_SKEW_MS) {
    throw new AppError('WEBHOOK_REJECTED', 'issued_at is outside the accepted window');
  }
  const rawUserId = isLosslessNumber(fields.user_id) ? fields.user_id.value : fields.user_id;
  if (typeof rawUserId !== 'string' || !/^\d{1,30}$/.test(rawUserId)) {
    throw new AppError('BAD_REQUEST', 'user_id must be a decimal id');
  }
  return { userId: rawUserId, issuedAt, secretIndex };
}
