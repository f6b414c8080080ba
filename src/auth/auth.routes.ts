import express, { type NextFunction, type Request, type RequestHandler, type Response, Router } from 'express';
import { finishLinkFlow, type LinkFlowStarter } from '../connect-sessions/connect-sessions.routes';
import type { ConnectSessions } from '../connect-sessions/connect-sessions.service';
import type { PendingChoices } from '../connections/pending-choices';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import { AppError, ErrorCodes, type ErrorCode, isAppError } from '../shared/errors';
import { connectedFlash } from './outcome';
import type { ConnectFinisher, Passport } from './passport';
import { type AuthenticateOptions, type ConnectInfo, consumedFlow } from './provider-strategy';

/**
 * For each configured provider: GET /auth/<id> starts the flow; GET /auth/<id>/callback finishes it.
 * Both answer with no-store. Once the state has been consumed, the callback always ends in a redirect to
 * a clean URL (no code, state or error in the address bar, the history or a later Referer): /account on
 * success, /auth/<id>/choose when the person must pick among several accounts, /auth/<id>/result for a
 * cancel or the provider's refusal, whose outcome waits in the session. A callback that fails before that
 * (no, forged or used state; malformed parameters) belongs to no flow of this browser and is answered
 * directly. A flow opened through a connect link ends in src/connect-sessions instead, and never signs
 * the browser in.
 */
function isFlowOutcome(error: unknown): error is AppError {
  return isAppError(error) && (error.code.startsWith('CONNECT_') || error.code.startsWith('PROVIDER_'));
}

const noStore = (_req: Request, res: Response, next: NextFunction) => {
  res.set('Cache-Control', 'no-store');
  next();
};

/** CSRF protection for the picker's form, handed in by the app (src/http/csrf.ts). */
interface FormProtection {
  token(req: Request): string;
  check: RequestHandler;
}

export function createAuthRouter(deps: {
  passport: Passport;
  providers: ProviderRegistry;
  clock: Clock;
  connectSessions: ConnectSessions;
  choices: PendingChoices;
  finish: ConnectFinisher;
  forms: FormProtection;
}): Router {
  const { passport, providers, clock } = deps;
  const router = Router();
  const signIn = (
    req: Request,
    res: Response,
    next: NextFunction,
    user: Express.User,
    flash: ReturnType<typeof connectedFlash>,
  ) => {
    // passport 0.7 regenerates the session id on logIn (session fixation), keeping nothing of the old one.
    req.logIn(user, (loginError) => {
      if (loginError) return next(loginError);
      req.session.signedInAt = clock.now();
      req.session.flash = flash;
      res.redirect(303, '/account');
    });
  };

  for (const { id } of providers.all()) {
    // Every page these routes end on, errors included, names this provider and leads back into its flow
    // (views/error.ejs), not into the first one configured.
    router.use(`/auth/${id}`, (_req, res, next) => {
      res.locals.flowProvider = id;
      next();
    });

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
            finishLinkFlow(deps.connectSessions, req, res, {
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
          signIn(req, res, next, user, connectedFlash(info?.usernames ?? [], info?.skipped));
        },
      )(req, res, next);
    });

    // Several accounts found: the person picks which to connect (all ticked), on a server-rendered form.
    router.get(`/auth/${id}/choose`, noStore, async (req, res) => {
      const pending = req.session.pendingChoice;
      const choice = pending?.provider === id ? await deps.choices.peek(pending.id, req.sessionID) : undefined;
      if (!choice) throw new AppError('CHOICE_EXPIRED');
      res.render('choose', {
        provider: id,
        accounts: choice.accounts.map((a) => ({
          accountId: a.accountId,
          username: a.profile.username,
          page: a.profile.page?.name ?? null,
        })),
        skipped: choice.skipped,
        csrfToken: deps.forms.token(req),
      });
    });

    router.post(
      `/auth/${id}/choose`,
      noStore,
      express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 60 }),
      deps.forms.check,
      async (req, res, next) => {
        const pending = req.session.pendingChoice;
        delete req.session.pendingChoice;
        const choice = pending?.provider === id ? await deps.choices.take(pending.id, req.sessionID) : undefined;
        if (!choice) throw new AppError('CHOICE_EXPIRED');
        const picked = new Set(
          [(req.body as Record<string, unknown>).account ?? []].flat().filter((v) => typeof v === 'string'),
        );
        const accounts = choice.accounts.filter((a) => picked.has(a.accountId));
        const connectSessionId = choice.context.connectSessionId;
        let error: unknown =
          accounts.length === 0 ? new AppError('CONNECT_CANCELLED', 'no account was picked') : undefined;
        let stored: Awaited<ReturnType<ConnectFinisher>> | undefined;
        if (!error) {
          try {
            stored = await deps.finish(req, { ...choice, accounts }, connectSessionId);
          } catch (caught) {
            error = caught;
          }
        }
        if (connectSessionId) {
          return finishLinkFlow(deps.connectSessions, req, res, {
            connectSessionId,
            error,
            connectionIds: stored?.connections.map((c) => c.id),
            usernames: stored?.connections.map((c) => c.profile.username),
          });
        }
        if (isFlowOutcome(error)) {
          req.session.connectOutcome = { code: error.code, detail: error.detail ?? null };
          return res.redirect(303, `/auth/${id}/result`);
        }
        if (error || !stored) throw error;
        const flash = connectedFlash(
          stored.connections.map((c) => c.profile.username),
          choice.skipped,
        );
        signIn(req, res, next, { id: stored.userId }, flash);
      },
    );

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
