import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { AppError } from '../shared/errors';

/**
 * Synchronizer-token CSRF protection for the app's own state-changing routes (POST only), plus an
 * origin check: a browser's Sec-Fetch-Site or Origin header must say the form came from this site.
 */
export function csrfToken(req: Request): string {
  if (!req.session.csrfToken) req.session.csrfToken = randomBytes(32).toString('base64url');
  return req.session.csrfToken;
}

export function requireCsrf(publicOrigin: string): RequestHandler {
  return (req, _res, next) => {
    const site = req.get('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return next(new AppError('CSRF_FAILED', `cross-site form post (Sec-Fetch-Site: ${site})`));
    }
    const origin = req.get('origin');
    // Our pages say Referrer-Policy: no-referrer, under which browsers send `Origin: null` even on a
    // same-origin form post. That alone proves nothing either way: accept it only when the browser
    // also says same-origin; the form token must still match.
    const opaqueSameSite = origin === 'null' && site === 'same-origin';
    if (origin !== undefined && origin !== publicOrigin && !opaqueSameSite) {
      return next(new AppError('CSRF_FAILED', 'form posted from another origin'));
    }
    const expected = req.session?.csrfToken;
    const body = req.body as Record<string, unknown> | undefined;
    const given = body?._csrf;
    if (!expected || typeof given !== 'string' || !sameSecret(given, expected)) {
      return next(new AppError('CSRF_FAILED', 'missing or wrong form token'));
    }
    next();
  };
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  // timingSafeEqual throws on unequal lengths; unequal lengths are simply not equal.
  return left.length === right.length && timingSafeEqual(left, right);
}
