import { createHmac } from 'node:crypto';

/**
 * The Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`, keyed
 * with the secret's decoded bytes (the part after `whsec_`). `timestampSeconds` is whole seconds since
 * the epoch, exactly as sent in `webhook-timestamp`.
 */
export function signEvent(secret: Buffer, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The headers of one delivery attempt, signed afresh with its own timestamp. */
export function signedHeaders(
  secret: Buffer,
  id: string,
  timestampSeconds: number,
  body: string,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signEvent(secret, id, timestampSeconds, body),
  };
}
