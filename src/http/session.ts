import type { Request, RequestHandler } from 'express';
import session from 'express-session';
import type { Kysely } from 'kysely';
import type { Config } from '../config/config';
import type { Database } from '../db/schema';
import { type Clock, DAY } from '../shared/clock';
import { sendError } from './error-handler';
import { KyselySessionStore } from './session-store';

declare module 'express-session' {
  interface SessionData {
    connectStartedAt?: number;
    signedInAt?: number;
    csrfToken?: string;
    /** A one-time message on the next page; `skipped` names accounts a connect could not reach. */
    flash?: { kind: 'success' | 'info'; text: string; skipped?: { name: string; reason: string }[] };
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
  return [sessions, absoluteTimeout, saveBeforeResponding()];
}

/** What express-session compares to decide whether a session changed: everything but the cookie. */
function sessionContent(req: Request): string | undefined {
  const sess = req.session as unknown as Record<string, unknown> | undefined;
  if (!sess) return undefined;
  return JSON.stringify(sess, function (this: unknown, key, value: unknown) {
    return this === sess && key === 'cookie' ? undefined : value;
  });
}

/**
 * express-session saves a changed session while the response is already on its way: its headers and
 * all but the last byte are written first, and a failed save is only passed to `next` afterwards. A
 * person then gets a page (a form, a redirect to Instagram) that refers to a session the database never
 * stored, and the next step says "Form expired". Here a changed session is saved before anything is
 * written; if that fails, the response is replaced by the error (503 while the database refuses writes).
 * An unchanged session is left to express-session (its touch is best effort). A HEAD request never
 * stores a session nor sets its cookie.
 */
function saveBeforeResponding(): RequestHandler {
  return (req, res, next) => {
    const loadedId = req.sessionID;
    const loaded = sessionContent(req);
    const end = res.end;
    let ending = false;
    res.end = function (this: typeof res, ...args: unknown[]) {
      const finish = () => (end as (...a: unknown[]) => typeof res).apply(res, args);
      if (ending) return finish();
      ending = true;
      if (req.method === 'HEAD') {
        delete (req as { session?: unknown }).session;
        return finish();
      }
      const changed = req.session && (req.sessionID !== loadedId || sessionContent(req) !== loaded);
      if (!changed) return finish();
      req.session.save((error) => {
        if (!error) return void finish();
        // Nothing is sent yet: drop what the handler prepared and answer the error instead. Without a
        // session express-session neither saves again nor sets a cookie for a session that does not exist.
        delete (req as { session?: unknown }).session;
        res.end = end;
        for (const header of ['Location', 'Content-Type', 'Content-Length', 'ETag', 'Last-Modified', 'Set-Cookie']) {
          res.removeHeader(header);
        }
        sendError(error, req, res);
      });
      return res;
    } as typeof res.end;
    next();
  };
}
