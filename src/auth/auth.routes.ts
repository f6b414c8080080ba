import { type NextFunction, type Request, type Response, Router } from 'express';
import type { Passport } from './passport';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import type { AuthenticateOptions } from './provider-strategy';

/**
 * GET /auth/:provider starts the flow; GET /auth/:provider/callback finishes it. Both answer with
 * no-store. The callback always ends in a redirect to a clean URL (no code or state in the address bar
 * or in any later Referer), or in an error page rendered by the error handler.
 */
export function createAuthRouter(passport: Passport, providerId: string, clock: Clock): Router {
  const router = Router();
  const noStore = (_req: Request, res: Response, next: NextFunction) => {
    res.set('Cache-Control', 'no-store');
    next();
  };

  router.get(`/auth/${providerId}`, noStore, (req, res, next) => {
    // `switch=1` (our own link, e.g. "use another account") asks Instagram to log in again.
    const options: AuthenticateOptions = { phase: 'start', forceReauth: req.query.switch === '1' };
    passport.authenticate(providerId, { ...options, session: false })(req, res, next);
  });

  router.get(`/auth/${providerId}/callback`, noStore, (req, res, next) => {
    const options: AuthenticateOptions = { phase: 'callback' };
    passport.authenticate(
      providerId,
      { ...options, session: false },
      (error: unknown, user: Express.User | false, info?: { username?: string }) => {
        if (error) return next(error);
        if (!user) return next(new AppError('STATE_INVALID', 'authentication ended without a user'));
        // passport 0.7 regenerates the session id on logIn (session fixation), keeping nothing of the old one.
        req.logIn(user, (loginError) => {
          if (loginError) return next(loginError);
          req.session.signedInAt = clock.now();
          const who = info?.username ? `@${info.username}` : 'Your Instagram account';
          req.session.flash = { kind: 'success', text: `${who} is connected.` };
          res.redirect(303, '/account');
        });
      },
    )(req, res, next);
  });

  return router;
}
