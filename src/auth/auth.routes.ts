import { type NextFunction, type Request, type Response, Router } from 'express';
import { type LinkFlowStarter, finishLinkFlow } from '../connect-sessions/connect-sessions.routes';
import type { ConnectSessions } from '../connect-sessions/connect-sessions.service';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import { AppError, ErrorCodes, type ErrorCode, isAppError } from '../shared/errors';
import type { Passport } from './passport';
import { type AuthenticateOptions, type ConnectInfo, consumedFlow } from './provider-strategy';

/**
 * For each configured provider: GET /auth/<id> starts the flow; GET /auth/<id>/callback finishes it.
 * Both answer with no-store. Once the state has been consumed, the callback always ends in a redirect to
 * a clean URL (no code, state or error in the address bar, the history or a later Referer): /account on
 * success, /auth/<id>/result for a cancel or the provider's refusal, whose outcome waits in the session.
 * A callback that fails before that (no, forged or used state; malformed parameters) belongs to no flow
 * of this browser and is answered directly. A flow opened through a connect link ends in
 * src/connect-sessions instead, and never signs the browser in.
 */
function isFlowOutcome(error: unknown): error is AppError {
  return isAppError(error) && (error.code === 'CONNECT_CANCELLED' || error.code.startsWith('PROVIDER_'));
}

const noStore = (_req: Request, res: Response, next: NextFunction) => {
  res.set('Cache-Control', 'no-store');
  next();
};

function connectedText(usernames: string[] | undefined): string {
  const names = (usernames ?? []).map((u) => `@${u}`);
  if (names.length === 0) return 'Your account is connected.';
  if (names.length === 1) return `${names[0]} is connected.`;
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are connected.`;
}

export function createAuthRouter(
  passport: Passport,
  providers: ProviderRegistry,
  clock: Clock,
  connectSessions: ConnectSessions,
): Router {
  const router = Router();
  for (const { id } of providers.all()) {
    // HEAD (link checkers, prefetchers) answers without running the flow: no state, session or exchange.
    router.head([`/auth/${id}`, `/auth/${id}/callback`], noStore, (_req, res) => void res.sendStatus(204));

    router.get(`/auth/${id}`, noStore, (req, res, next) => {
      // `switch=1` (our own link, e.g. "use another account") asks the provider to log in again.
      const options: AuthenticateOptions = { phase: 'start', forceReauth: req.query.switch === '1' };
      passport.authenticate(id, { ...options, session: false })(req, res, next);
    });

    router.get(`/auth/${id}/callback`, noStore, (req, res, next) => {
      const options: AuthenticateOptions = { phase: 'callback' };
      passport.authenticate(
        id,
        { ...options, session: false },
        (error: unknown, user: Express.User | false, info?: ConnectInfo) => {
          const flow = consumedFlow(res);
          if (flow?.connectSessionId) {
            finishLinkFlow(connectSessions, req, res, {
              connectSessionId: flow.connectSessionId,
              error,
              connectionIds: info?.connectionIds,
              usernames: info?.usernames,
            }).catch(next);
            return;
          }
          if (isFlowOutcome(error)) {
            req.session.connectOutcome = { code: error.code, detail: error.detail ?? null };
            return res.redirect(303, `/auth/${id}/result`);
          }
          if (error) return next(error);
          if (!user) return next(new AppError('STATE_INVALID', 'authentication ended without a user'));
          // passport 0.7 regenerates the session id on logIn (session fixation), keeping nothing of the old one.
          req.logIn(user, (loginError) => {
            if (loginError) return next(loginError);
            req.session.signedInAt = clock.now();
            req.session.flash = { kind: 'success', text: connectedText(info?.usernames) };
            res.redirect(303, '/account');
          });
        },
      )(req, res, next);
    });

    // Shows a flow's outcome once; a reload (or a visit without one) goes to the status page.
    router.get(`/auth/${id}/result`, noStore, (req, res, next) => {
      const outcome = req.session.connectOutcome;
      if (!outcome || !(outcome.code in ErrorCodes)) return res.redirect(303, '/account');
      delete req.session.connectOutcome;
      next(new AppError(outcome.code as ErrorCode, outcome.detail ?? undefined));
    });
  }
  return router;
}

/** Starts a provider's flow bound to a connect link (for src/connect-sessions' GET /connect/<secret>). */
export function linkFlowStarter(passport: Passport, providers: ProviderRegistry): LinkFlowStarter {
  return (req, res, next, link) => {
    // A link made before its provider was removed from the configuration leads nowhere.
    if (!providers.find(link.provider))
      return next(new AppError('NOT_FOUND', 'the link names a provider not configured'));
    const options: AuthenticateOptions = { phase: 'start', connectSessionId: link.connectSessionId };
    passport.authenticate(link.provider, { ...options, session: false })(req, res, next);
  };
}
