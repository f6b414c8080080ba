import express, { Router } from 'express';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import { verifySignedRequest } from './signed-request';
import type { WebhooksService } from './webhooks.service';

/**
 * Meta's deauthorize and data-deletion callbacks. Mounted before the session middleware: a callback
 * never creates a session or a cookie, and needs no CSRF token (the signature is its authentication).
 * Errors answer JSON. Unknown ids answer 200 with nothing changed.
 */
export function createWebhooksRouter(deps: {
  webhooks: WebhooksService;
  clock: Clock;
  appSecret: string;
  maxAgeMs: number;
}): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 });
  const verify = (body: unknown) =>
    verifySignedRequest(
      (body as Record<string, unknown> | undefined)?.signed_request,
      deps.appSecret,
      deps.clock.now(),
      deps.maxAgeMs,
    );

  router.use('/webhooks', (_req, res, next) => {
    res.locals.errorFormat = 'json';
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.post('/webhooks/instagram/deauthorize', form, async (req, res) => {
    const { userId, issuedAt } = verify(req.body);
    const deleted = await deps.webhooks.deauthorize(userId, issuedAt);
    req.log.info({ deleted }, 'deauthorize callback processed');
    res.json({ status: 'ok' });
  });

  router.post('/webhooks/instagram/data-deletion', form, async (req, res) => {
    const body = req.body as Record<string, unknown> | undefined;
    const { userId } = verify(body);
    const answer = await deps.webhooks.requestDeletion(body?.signed_request as string, userId);
    req.log.info('data-deletion callback processed');
    res.json({ url: answer.url, confirmation_code: answer.confirmationCode });
  });

  // The page Meta shows the person: the request's state, nothing personal.
  router.get('/data-deletion/:code', async (req, res) => {
    const code = req.params.code;
    if (typeof code !== 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(code)) throw new AppError('NOT_FOUND');
    const request = await deps.webhooks.deletionStatus(code);
    if (!request) throw new AppError('NOT_FOUND');
    res.set('Cache-Control', 'no-store');
    res.render('data-deletion', {
      code: request.confirmation_code,
      status: request.status,
      requestedAt: new Date(Number(request.requested_at)),
      completedAt: request.completed_at === null ? null : new Date(Number(request.completed_at)),
    });
  });

  return router;
}
