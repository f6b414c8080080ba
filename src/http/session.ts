import type { RequestHandler } from 'express';
import session from 'express-session';
import type { Kysely } from 'kysely';
import type { Config } from '../config/config';
import type { Database } from '../db/schema';
import { type Clock, DAY } from '../shared/clock';
import { KyselySessionStore } from './session-store';

declare module 'express-session' {
  interface SessionData {
    connectStartedAt?: number;
    signedInAt?: number;
    csrfToken?: string;
    flash?: { kind: 'success' | 'info'; text: string };
    /** A connect flow's error outcome, shown once on /auth/:provider/result. */
    connectOutcome?: { code: string; detail: string | null };
    /** An authorization waiting on /auth/:provider/choose for the person to pick accounts. */
    pendingChoice?: { id: string; provider: string };
  }
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface User {
      id: string;
    }
  }
}

export const IDLE_TIMEOUT_MS = 14 * DAY;
export const ABSOLUTE_TIMEOUT_MS = 30 * DAY;

/** `__Host-` needs Secure, path=/ and no Domain: only possible when the app is served over https. */
export function sessionCookieName(config: Config): string {
  return config.publicUrl.startsWith('https:') ? '__Host-igconnect.sid' : 'igconnect.sid';
}

export function createSessionMiddleware(config: Config, db: Kysely<Database>, clock: Clock): RequestHandler[] {
  const secure = config.publicUrl.startsWith('https:');
  const store = new KyselySessionStore(db, clock, IDLE_TIMEOUT_MS);
  const sessions = session({
    name: sessionCookieName(config),
    secret: config.sessionSecret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    proxy: config.trustProxy !== false,
    cookie: {
      httpOnly: true,
      // Lax, not Strict: the callback is a cross-site top-level navigation from the provider.
      sameSite: 'lax',
      secure,
      path: '/',
      maxAge: IDLE_TIMEOUT_MS,
    },
  });
  // Absolute timeout: a signed-in session ends 30 days after sign-in however active it is.
  const absoluteTimeout: RequestHandler = (req, _res, next) => {
    const signedInAt = req.session?.signedInAt;
    if (signedInAt !== undefined && clock.now() - signedInAt > ABSOLUTE_TIMEOUT_MS) {
      req.session.regenerate((err) => next(err));
      return;
    }
    next();
  };
  return [sessions, absoluteTimeout];
}
