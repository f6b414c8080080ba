import { type NextFunction, type Request, type Response, Router } from 'express';
import { isDatabaseUnavailable } from '../db/database-errors';
import { type ErrorCode, isAppError } from '../shared/errors';
import { ConnectLinkGone, type ConnectSessions, type GoneReason, LINK_PATH } from './connect-sessions.service';
import { withReturnParameters } from './return-url';

/**
 * The browser's side of a connect link. GET /connect/<secret> checks the link and starts the usual
 * connect flow bound to it (the start is handed in: the flow lives in src/auth). The provider's callback
 * stays the one registered redirect URI; for a link's flow it ends here, in `finishLinkFlow`: the browser
 * is never signed in, and goes back to the link's `return_url` with the outcome appended, or, without
 * one, to a page saying it can be closed. Every answer is uncacheable.
 */

/** Starts the connect flow of `provider` bound to a connect link (src/auth, handed in by the app). */
export type LinkFlowStarter = (
  req: Request,
  res: Response,
  next: NextFunction,
  link: { provider: string; connectSessionId: string },
) => void;

/** How a link's flow ended, kept in the session for /connect/result when there is no return_url. */
export type LinkOutcome = (
  | { kind: 'connected'; usernames: string[] }
  | { kind: 'cancelled' }
  | { kind: 'error'; error: LinkErrorCode; status: number }
  | { kind: 'gone'; reason: GoneReason; returnUrl: string | null }
) & {
  /** The link's provider, whose words the page uses (absent: Instagram Login's). */
  provider?: string;
};

declare module 'express-session' {
  interface SessionData {
    /** A connect link's outcome, shown once on /connect/result. */
    connectLinkOutcome?: LinkOutcome;
  }
}

/**
 * The `error` values appended to `return_url` (listed in the README): short words for the deployer's
 * code, grouped by what it can do about them, never the provider's text.
 */
export type LinkErrorCode =
  | 'provider_refused'
  | 'permission_missing'
  | 'tester_role_missing'
  | 'misconfigured'
  | 'provider_error'
  | 'provider_unavailable'
  | 'server_error'
  | 'no_accounts'
  | 'choice_expired'
  | 'link_used'
  | 'link_expired';

const ERROR_CODES: Partial<Record<ErrorCode, LinkErrorCode>> = {
  PROVIDER_REJECTED: 'provider_refused',
  PROVIDER_CODE_USED: 'provider_refused',
  PROVIDER_TOKEN_INVALID: 'provider_refused',
  PROVIDER_PERMISSION: 'permission_missing',
  PROVIDER_TESTER_ROLE: 'tester_role_missing',
  PROVIDER_REDIRECT_URI_MISMATCH: 'misconfigured',
  PROVIDER_INVALID_APP: 'misconfigured',
  PROVIDER_INVALID_SECRET: 'misconfigured',
  PROVIDER_INVALID_SCOPE: 'misconfigured',
  PROVIDER_BAD_RESPONSE: 'provider_error',
  PROVIDER_IDENTITY_MISMATCH: 'provider_error',
  // After a valid state, only "callback without code": the provider ended the flow oddly.
  BAD_REQUEST: 'provider_error',
  PROVIDER_THROTTLED: 'provider_unavailable',
  PROVIDER_UNAVAILABLE: 'provider_unavailable',
  CONNECT_NO_ACCOUNTS: 'no_accounts',
  CHOICE_EXPIRED: 'choice_expired',
};

const noStore = (_req: Request, res: Response, next: NextFunction) => {
  res.set('Cache-Control', 'no-store');
  next();
};

export function goneParameters(reason: GoneReason): [string, string][] {
  return [
    ['status', 'error'],
    ['error', reason === 'used' ? 'link_used' : 'link_expired'],
  ];
}

/** Renders the connect link page; the words for each outcome live in views/connect-link.ejs. */
function renderLinkPage(res: Response, status: number, page: Record<string, unknown>): void {
  const returnUrl = typeof page.returnUrl === 'string' ? page.returnUrl : null;
  const back =
    returnUrl && page.kind === 'gone'
      ? {
          href: withReturnParameters(returnUrl, goneParameters(page.reason as GoneReason)),
          host: new URL(returnUrl).host,
        }
      : null;
  res.status(status).render('connect-link', { ...page, back, requestId: res.req.id ?? null });
}

export function createConnectSessionsRouter(deps: { sessions: ConnectSessions; startFlow: LinkFlowStarter }): Router {
  const router = Router();

  // The outcome of a link's flow without a return_url, once; afterwards (or on a reload) the plain
  // "you can close this page".
  router.get(`${LINK_PATH}result`, noStore, (req, res) => {
    const outcome = req.session.connectLinkOutcome;
    if (outcome) delete req.session.connectLinkOutcome;
    if (!outcome) return renderLinkPage(res, 200, { kind: 'closed' });
    if (outcome.kind === 'gone') return renderLinkPage(res, 410, outcome);
    if (outcome.kind === 'error') return renderLinkPage(res, outcome.status, outcome);
    renderLinkPage(res, 200, outcome);
  });

  router.get(`${LINK_PATH}:secret`, noStore, async (req, res, next) => {
    const opened = await deps.sessions.open(String(req.params.secret));
    if (!opened) return renderLinkPage(res, 404, { kind: 'unknown' });
    const { link, gone } = opened;
    if (gone) {
      req.log?.info({ connectSessionId: link.id, reason: gone }, 'connect link refused');
      return renderLinkPage(res, 410, { kind: 'gone', reason: gone, returnUrl: link.returnUrl });
    }
    deps.startFlow(req, res, next, { provider: link.provider, connectSessionId: link.id });
  });

  return router;
}

/** The `error` word for a failure, and the status of the page shown when there is no return_url. */
export function linkErrorOf(error: unknown): { code: LinkErrorCode; status: number } {
  if (isAppError(error)) return { code: ERROR_CODES[error.code] ?? 'server_error', status: error.status };
  return { code: 'server_error', status: isDatabaseUnavailable(error) ? 503 : 500 };
}

/**
 * Ends the callback of a flow opened through a connect link (called by src/auth once the state is
 * consumed). Success, a cancel and the provider's refusals go back to `return_url`; a link that was
 * used up (or expired) meanwhile gets the 410 page. Nobody is signed in.
 */
export async function finishLinkFlow(
  sessions: ConnectSessions,
  req: Request,
  res: Response,
  flow: { connectSessionId: string; error: unknown; connectionIds?: string[]; usernames?: string[] },
): Promise<void> {
  const { error } = flow;
  const link = error instanceof ConnectLinkGone ? error.link : await sessions.find(flow.connectSessionId);
  if (error instanceof ConnectLinkGone || !link) {
    const reason = error instanceof ConnectLinkGone ? error.reason : 'expired';
    req.log?.info({ connectSessionId: flow.connectSessionId, reason }, 'connect link was gone at the callback');
    return showOnce(req, res, { kind: 'gone', reason, returnUrl: link?.returnUrl ?? null });
  }

  let outcome: LinkOutcome;
  let params: [string, string][];
  if (!error) {
    outcome = { kind: 'connected', usernames: flow.usernames ?? [] };
    params = [
      ...(flow.connectionIds ?? []).map((id): [string, string] => ['connection_id', id]),
      ['status', 'connected'],
    ];
  } else if (isAppError(error) && error.code === 'CONNECT_CANCELLED') {
    outcome = { kind: 'cancelled' };
    params = [['status', 'cancelled']];
  } else {
    const { code, status } = linkErrorOf(error);
    if (code === 'server_error') req.log?.error({ err: error }, 'connect link flow failed');
    else
      req.log?.info(
        { code: isAppError(error) ? error.code : code, detail: isAppError(error) ? error.detail : undefined },
        'connect link flow ended with an error',
      );
    outcome = { kind: 'error', error: code, status };
    params = [
      ['status', 'error'],
      ['error', code],
    ];
  }
  if (link.returnUrl) return res.redirect(303, withReturnParameters(link.returnUrl, params));
  showOnce(req, res, { ...outcome, provider: link.provider });
}

/** Like the home page's result page: a clean address, the outcome shown once. */
function showOnce(req: Request, res: Response, outcome: LinkOutcome): void {
  req.session.connectLinkOutcome = outcome;
  res.redirect(303, `${LINK_PATH}result`);
}
