import { Router } from 'express';
import { CONNECTION_ID, type FormProtection, formPost } from '../connections/connections.routes';
import { AppError, isAppError } from '../shared/errors';
import type { LifecycleService } from './lifecycle.service';

/**
 * "Validate now" and "Refresh now" on the status page: the same code path as the keeper, for one of the
 * signed-in person's connections, right away. The outcome comes back as a one-time message on the page.
 */
const REFUSALS: Record<string, (detail: string | undefined) => string> = {
  BUSY: () => 'The keeper is working on this account right now; try again in a minute.',
  NEEDS_RECONNECT: () => 'This account needs reconnecting first.',
  REFRESH_TOO_EARLY: (detail) => `Not renewed: ${detail ?? 'the token is too young'}.`,
  NOT_RENEWABLE: (detail) => `Not renewed: ${detail ?? 'this token cannot be renewed'}.`,
};
const OUTCOMES: Record<string, string> = {
  ok: 'done: everything is in order.',
  token_invalid: 'the provider no longer accepts the token: reconnect the account.',
  permission_missing: 'the token works, but a permission is missing.',
  throttled: 'the provider asked us to slow down; the keeper will retry later.',
  unavailable: 'the provider did not answer; the keeper will retry with backoff.',
  token_unreadable: 'the stored token cannot be decrypted (see details).',
  expired: 'the token has expired: reconnect the account.',
};

export function createLifecycleRouter(deps: { lifecycle: LifecycleService; forms: FormProtection }): Router {
  const router = Router();
  const form = formPost(deps.forms);
  for (const kind of ['validate', 'refresh'] as const) {
    router.post(`/account/connections/:id/${kind}`, ...form, async (req, res) => {
      res.set('Cache-Control', 'no-store');
      const id = req.params.id;
      if (!req.user) throw new AppError('CSRF_FAILED', 'not signed in');
      if (typeof id !== 'string' || !CONNECTION_ID.test(id)) throw new AppError('NOT_FOUND');
      const label = kind === 'validate' ? 'Validation' : 'Refresh';
      try {
        const result = await deps.lifecycle.runNow(kind, id, req.user.id);
        req.session.flash = { kind: 'info', text: `${label} ${OUTCOMES[result.outcome] ?? 'finished.'}` };
      } catch (error) {
        const refusal = isAppError(error) ? REFUSALS[error.code] : undefined;
        if (!refusal || !isAppError(error)) throw error;
        req.session.flash = { kind: 'info', text: refusal(error.detail) };
      }
      res.redirect(303, '/account');
    });
  }
  return router;
}
