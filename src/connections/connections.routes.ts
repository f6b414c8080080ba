import express, { type Request, type RequestHandler, Router } from 'express';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import { presentStatusPage, type ScopeWords } from './connections.presenter';
import type { Connection, ConnectionsService } from './connections.service';
import { RenderedPages } from './rendered-pages';

/** Users whose last status page is kept (about 15 kB each with its key). */
const KEPT_PAGES = 200;

export const CONNECTION_ID = /^[0-9a-f-]{36}$/;

/** CSRF protection for the app's own forms, handed in by the app (src/http/csrf.ts). */
export interface FormProtection {
  /** The token to embed in a form of this session. */
  token(req: Request): string;
  /** Refuses a form post without the session's token or from another origin. */
  check: RequestHandler;
}

/** The urlencoded body parser and the CSRF check every form post of the status page goes through. */
export function formPost(forms: FormProtection): RequestHandler[] {
  return [express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 20 }), forms.check];
}

/** The status page, disconnect and sign-out. Every response here shows account data, so none may be cached. */
export function createConnectionsRouter(deps: {
  connections: ConnectionsService;
  clock: Clock;
  forms: FormProtection;
  /** What must follow a disconnect (withdrawing the app at the provider after a person's last connection). */
  afterDisconnect?: (connection: Connection) => Promise<void>;
  /** Sentences about the providers themselves shown above the connections (a degraded app). */
  notices?: () => Promise<string[]>;
  /** What each permission lets the app do, from the provider definitions. */
  scopeWords?: ScopeWords;
}): Router {
  const router = Router();
  const form = formPost(deps.forms);
  const pages = new RenderedPages(KEPT_PAGES);

  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.get('/account', async (req, res) => {
    const connections = req.user ? await deps.connections.listForUser(req.user.id) : [];
    const flash = req.session.flash;
    delete req.session.flash;
    await pages.send(req, res, req.user?.id, 'account', {
      signedIn: req.user !== undefined,
      ...presentStatusPage(connections, new Date(deps.clock.now()), deps.scopeWords),
      csrfToken: req.user ? deps.forms.token(req) : '',
      flash: flash ?? null,
      notices: deps.notices && connections.length > 0 ? await deps.notices().catch(() => []) : [],
    });
  });

  router.post('/account/connections/:id/disconnect', ...form, async (req, res) => {
    const id = req.params.id;
    if (!req.user) throw new AppError('CSRF_FAILED', 'not signed in');
    if (typeof id !== 'string' || !CONNECTION_ID.test(id)) throw new AppError('NOT_FOUND');
    const deleted = await deps.connections.disconnect(req.user.id, id);
    await deps.afterDisconnect?.(deleted);
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
