import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '../config/config';

/**
 * helmet, tightened: no framing at all, no inline scripts or styles, no plugins, no <base>, and no
 * Referer ever (the callback URL carries a code). HSTS only when served over https.
 */
export function securityHeaders(config: Config, options: { formAction?: boolean } = {}): RequestHandler {
  const https = config.publicUrl.startsWith('https:');
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        // Instagram profile pictures come from Meta's CDN hosts, which change; https only.
        imgSrc: ["'self'", 'data:', 'https:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        ...(options.formAction === false ? {} : { formAction: ["'self'"] }),
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
        ...(https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: https ? { maxAge: 31536000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  });
}

/**
 * The API's answers are JSON for programs, never a page: nothing may load, frame or sniff them. The same
 * HSTS as the pages when served over https.
 */
export function apiSecurityHeaders(config: Config): RequestHandler {
  const https = config.publicUrl.startsWith('https:');
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: https ? { maxAge: 31536000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  });
}
