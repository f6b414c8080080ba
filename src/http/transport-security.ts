import type { RequestHandler } from 'express';
import type { Config } from '../config/config';
import type { Logger } from '../shared/logger';

/**
 * Pages are served over https only. When PUBLIC_URL is https and a request arrived over plain http
 * (`req.secure`, which honours TRUST_PROXY and X-Forwarded-Proto), answer 308 to the same path on
 * PUBLIC_URL's origin: never the Host header, which the client chooses. Machine endpoints are never
 * redirected: Meta does not follow redirects on webhooks, and health checks talk to the instance.
 */
const NEVER_REDIRECTED = /^\/(?:webhooks(?:\/|$)|healthz$|readyz$)/;

export function httpsRedirect(config: Config): RequestHandler {
  const publicUrl = new URL(config.publicUrl);
  if (publicUrl.protocol !== 'https:') return (_req, _res, next) => next();
  return (req, res, next) => {
    if (req.secure || NEVER_REDIRECTED.test(req.path)) return next();
    // An absolute-form or `//host` request target would otherwise resolve to another origin.
    const target = new URL(req.originalUrl, publicUrl.origin);
    const location = target.origin === publicUrl.origin ? target.href : `${publicUrl.origin}/`;
    res.status(308).set('Cache-Control', 'no-store').location(location).end();
  };
}

/**
 * `secure` cookies behind a TLS proxy need TRUST_PROXY, or none is ever set and every callback fails its
 * state check. `doctor` cannot see requests, so the app says it once, on the first request that shows
 * a proxy in front (X-Forwarded-Proto) while trust proxy is off.
 */
export function warnOnUntrustedProxy(config: Config, logger: Logger): RequestHandler {
  if (config.trustProxy !== false) return (_req, _res, next) => next();
  let warned = false;
  return (req, _res, next) => {
    if (!warned && req.headers['x-forwarded-proto'] !== undefined) {
      warned = true;
      logger.warn(
        {
          check: 'trust-proxy',
          fix: 'If a proxy or load balancer terminates TLS in front of igconnect, set TRUST_PROXY (a hop count such as 1, or its addresses).',
        },
        'a request arrived with X-Forwarded-Proto but TRUST_PROXY is off: the proxy headers are ignored',
      );
    }
    next();
  };
}
