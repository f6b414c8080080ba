import express, { type Request, Router } from 'express';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import { verifySignedRequest } from './signed-request';
import type { WebhooksService } from './webhooks.service';

/**
 * Meta's deauthorize and data-deletion callbacks, for each provider that receives them
 * (`/webhooks/<provider>/…`, verified with that provider's secret). Mounted before the session
 * middleware: a callback never creates a session or a cookie, and needs no CSRF token (the signature is
 * its authentication). Errors answer JSON. Unknown ids answer 200 with nothing changed.
 */
export interface SignedCallbackReceiver {
  provider: string;
  /** Secrets that may sign this provider's callbacks, in the order to try, each with a name for the log. */
  secrets: { name: string; secret: string }[];
}

export function createWebhooksRouter(deps: {
  webhooks: WebhooksService;
  clock: Clock;
  receivers: SignedCallbackReceiver[];
  maxAgeMs: number;
}): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 });
  const verify = (req: Request, receiver: SignedCallbackReceiver) => {
    const body = req.body as Record<string, unknown> | undefined;
    const verified = verifySignedRequest(
      body?.signed_request,
      receiver.secrets.map((s) => s.secret),
      deps.clock.now(),
      deps.maxAgeMs,
    );
    req.log.info(
      { provider: receiver.provider, signedWith: receiver.secrets[verified.secretIndex]?.name },
      'signed callback verified',
    );
    return verified;
  };

  router.use('/webhooks', (_req, res, next) => {
    res.locals.errorFormat = 'json';
    res.set('Cache-Control', 'no-store');
    next();
  });

  for (const receiver of deps.receivers) {
    const { provider } = receiver;
    router.post(`/webhooks/${provider}/deauthorize`, form, async (req, res) => {
      const { userId, issuedAt } = verify(req, receiver);
      const deleted = await deps.webhooks.deauthorize(provider, userId, issuedAt);
      req.log.info({ provider, deleted }, 'deauthorize callback processed');
      res.json({ status: 'ok' });
    });

    router.post(`/webhooks/${provider}/data-deletion`, form, async (req, res) => {
      const { userId } = verify(req, receiver);
      const signedRequest = (req.body as Record<string, string>).signed_request as string;
      const answer = await deps.webhooks.requestDeletion(provider, signedRequest, userId);
      req.log.info({ provider }, 'data-deletion callback processed');
      res.json({ url: answer.url, confirmation_code: answer.confirmationCode });
    });
  }

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
