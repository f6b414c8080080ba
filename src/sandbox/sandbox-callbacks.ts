import { createHmac } from 'node:crypto';
import type { Clock } from '../shared/clock';

/**
 * What Meta sends an app when a person removes it (deauthorize) or asks for their data to be deleted:
 * a form POST with `signed_request` = base64url(HMAC-SHA256 over the encoded payload, keyed with the
 * app secret) "." base64url(JSON payload). The sandbox sends the app-scoped id as `user_id`; which id
 * Meta puts there is not documented clearly, so the app matches both.
 */
export function signRequest(payload: Record<string, unknown>, secret: string): string {
  const encoded = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  const signature = createHmac('sha256', secret).update(encoded).digest('base64url');
  return `${signature}.${encoded}`;
}

export interface CallbackUrls {
  deauthorizeUrl: string;
  dataDeletionUrl: string;
}

export interface CallbackAnswer {
  status: number;
  body: string;
}

/** POSTs a signed callback about `userId` (an app-scoped id: Instagram's, or Facebook's for the Facebook app). */
export async function sendCallback(
  url: string,
  userId: string,
  options: { secret: string; clock: Clock },
): Promise<CallbackAnswer> {
  const signedRequest = signRequest(
    { algorithm: 'HMAC-SHA256', issued_at: Math.floor(options.clock.now() / 1000), user_id: userId },
    options.secret,
  );
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ signed_request: signedRequest }).toString(),
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.text() };
}
