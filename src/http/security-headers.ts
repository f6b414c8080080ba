import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '../config/config';

/**
 * helmet, tightened: no framing at all, no inline scripts or styles, no plugins, no <base>, and no
 * Referer ever (the callback URL carries a code). HSTS only when served over https.
 */
export function securityHeaders(config: Config, options: { formAction?: boolean } = {}): RequestHandler {
  const https = isHttps(config);
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
    ...everyAnswer(https),
  });
}

/**
 * The API's answers are JSON for programs, never a page: nothing may load, frame or sniff them. The same
 * HSTS as the pages when served over https.
 */
export function apiSecurityHeaders(config: Config): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    ...everyAnswer(isHttps(config)),
  });
}

const isHttps = (config: Config) => config.publicUrl.startsWith('https:');

/** What pages and the API share: no framing, no Referer, HSTS over https. */
function everyAnswer(https: boolean) {
  return {
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: https ? { maxAge: 31536000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  } as const;
}
