import express, { type ErrorRequestHandler, type Router } from 'express';
import { mountFacebookAccountsRoutes } from './facebook-accounts.routes';
import { mountFacebookDialogRoutes } from './facebook-dialog.routes';
import { facebookGraphFailure, mountFacebookGraphRoutes } from './facebook-graph.routes';
import type { FacebookState } from './facebook-state';
import { graphFailure, mountInstagramGraphRoutes } from './instagram-graph.routes';
import { mountInstagramOAuthRoutes, oauthFailure } from './instagram-oauth.routes';
import { mountAccountsRoutes } from './sandbox-accounts.routes';
import type { SandboxControl } from './sandbox-control';
import { createRouteContext, send, type SandboxRouteContext, type SandboxRouteOptions, statusOf } from './sandbox-http';
import type { SandboxState } from './sandbox-state';
import { SANDBOX_CSS_FILE } from './sandbox-views';
import type { ScriptedResponse } from './sandbox-wire';

/**
 * One way into Instagram that the sandbox fakes: its route groups, and the wire shape of a request that
 * failed on one of its paths (undefined: not its path, or no shape its clients parse).
 */
interface SandboxSurface {
  mount(router: Router, context: SandboxRouteContext, control: SandboxControl): void;
  failure(path: string, client: boolean): ScriptedResponse | undefined;
}

/** Instagram API with Instagram Login: www.instagram.com's authorize page, api.instagram.com, graph.instagram.com. */
const INSTAGRAM_LOGIN: SandboxSurface = {
  mount(router, context) {
    mountInstagramOAuthRoutes(router, context);
    mountInstagramGraphRoutes(router, context);
  },
  failure: (path, client) => graphFailure(path, client) ?? oauthFailure(path, client),
};

/**
 * Instagram API with Facebook Login for Business, below `/facebook`: www.facebook.com's dialog at
 * `/facebook/<version>/dialog/oauth`, graph.facebook.com at `/facebook/graph`, and its people's buttons.
 */
const FACEBOOK_LOGIN: SandboxSurface = {
  mount(router, context, control) {
    mountFacebookDialogRoutes(router, context);
    mountFacebookGraphRoutes(router, context);
    mountFacebookAccountsRoutes(router, context, control.facebook);
  },
  failure: (path, client) => facebookGraphFailure(path, client),
};

/** Each surface keeps to its own paths. */
const SURFACES: readonly SandboxSurface[] = [INSTAGRAM_LOGIN, FACEBOOK_LOGIN];

/**
 * Every sandbox route on one Express router: a path no group answers ends in this router's 404, never in
 * the app behind it (and an OPTIONS request gets that 404 rather than an automatic Allow answer).
 */
export function createSandboxRouter(
  state: SandboxState,
  facebook: FacebookState,
  control: SandboxControl,
  options: SandboxRouteOptions,
): Router {
  const router = express.Router();
  const context = createRouteContext(state, facebook, options);

  router.get('/sandbox.css', (_req, res) => {
    res.sendFile(SANDBOX_CSS_FILE, { maxAge: '1h' });
  });
  for (const surface of SURFACES) surface.mount(router, context, control);
  mountAccountsRoutes(router, context, control);

  router.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });
  router.use(failureHandler(options));
  return router;
}

function failureHandler(options: SandboxRouteOptions): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const status = statusOf(err);
    if (status >= 500) {
      options.logger?.error({ err, path: req.path }, 'sandbox request failed');
    }
    const client = status < 500;
    for (const surface of SURFACES) {
      const answer = surface.failure(req.path, client);
      if (answer) return send(res, { ...answer, status });
    }
    // No stack trace, ever: a short plain-text answer.
    res
      .status(status)
      .type('text/plain')
      .send(client ? 'Bad request' : 'Sandbox error');
  };
}
