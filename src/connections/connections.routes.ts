import express, { Router } from 'express';
import { csrfToken, requireCsrf } from '../http/csrf';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import { presentStatusPage } from './connections.presenter';
import type { ConnectionsService } from './connections.service';

const ID = /^[0-9a-f-]{36}$/;

/** The status page and its forms. Every response here shows account data, so none may be cached. */
export function createConnectionsRouter(deps: {
  connections: ConnectionsService;
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
