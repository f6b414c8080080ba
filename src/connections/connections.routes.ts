import express, { Router } from 'express';
import { csrfToken, requireCsrf } from '../http/csrf';
import type { LifecycleService } from '../lifecycle/lifecycle.service';
import type { Clock } from '../shared/clock';
import { AppError, isAppError } from '../shared/errors';
import { presentStatusPage } from './connections.presenter';
import type { ConnectionsService } from './connections.service';

const ID = /^[0-9a-f-]{36}$/;

/** The status page and its forms. Every response here shows account data, so none may be cached. */
export function createConnectionsRouter(deps: {
  connections: ConnectionsService;
  lifecycle: LifecycleService;
  clock: Clock;
  publicOrigin: string;
  scopes: string[];
}): Router {
  const router = Router();
  const form = [
    express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 20 }),
    requireCsrf(deps.publicOrigin),
  ];

  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.get('/account', async (req, res) => {
    const connections = req.user ? await deps.connections.listForUser(req.user.id) : [];
    const flash = req.session.flash;
    delete req.session.flash;
    res.render('account', {
      signedIn: req.user !== undefined,
      ...presentStatusPage(connections, new Date(deps.clock.now())),
      csrfToken: req.user ? csrfToken(req) : '',
      flash: flash ?? null,
    });
  });

  router.post('/account/connections/:id/disconnect', ...form, async (req, res) => {
    const id = req.params.id;
    if (!req.user) throw new AppError('CSRF_FAILED', 'not signed in');
    if (typeof id !== 'string' || !ID.test(id)) throw new AppError('NOT_FOUND');
    await deps.connections.disconnect(req.user.id, id);
    req.session.flash = { kind: 'info', text: 'The account was disconnected and its token deleted.' };
    res.redirect(303, '/account');
  });

  // "Validate now" / "Refresh now": the same code path as the keeper, for one connection, right away.
  const RUN_NOW_MESSAGES: Record<string, string> = {
    BUSY: 'The keeper is working on this account right now; try again in a minute.',
    NEEDS_RECONNECT: 'This account needs reconnecting first.',
    REFRESH_TOO_EARLY: 'Instagram only refreshes tokens that are at least 24 hours old.',
  };
  const OUTCOME_MESSAGES: Record<string, string> = {
    ok: 'done: everything is in order.',
    token_invalid: 'Instagram no longer accepts the token: reconnect the account.',
    permission_missing: 'the token works, but a permission is missing.',
    throttled: 'Instagram asked us to slow down; the keeper will retry later.',
    unavailable: 'Instagram did not answer; the keeper will retry with backoff.',
    token_unreadable: 'the stored token cannot be decrypted (see details).',
    expired: 'the token has expired: reconnect the account.',
  };
  for (const kind of ['validate', 'refresh'] as const) {
    router.post(`/account/connections/:id/${kind}`, ...form, async (req, res) => {
      const id = req.params.id;
      if (!req.user) throw new AppError('CSRF_FAILED', 'not signed in');
      if (typeof id !== 'string' || !ID.test(id)) throw new AppError('NOT_FOUND');
      const label = kind === 'validate' ? 'Validation' : 'Refresh';
      try {
        const result = await deps.lifecycle.runNow(kind, id, req.user.id);
        req.session.flash = { kind: 'info', text: `${label} ${OUTCOME_MESSAGES[result.outcome] ?? 'finished.'}` };
      } catch (error) {
        if (!isAppError(error) || !RUN_NOW_MESSAGES[error.code]) throw error;
        req.session.flash = { kind: 'info', text: RUN_NOW_MESSAGES[error.code] as string };
      }
      res.redirect(303, '/account');
    });
  }

  router.post('/logout', ...form, (req, res, next) => {
    req.logout((err) => {
      if (err) return next(err);
      req.session.destroy((destroyError) => {
        if (destroyError) return next(destroyError);
        res.redirect(303, '/');
      });
    });
  });

  return router;
}
