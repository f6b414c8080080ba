import type { Response, Router } from 'express';
import {
  formBody,
  formOf,
  queryOf,
  redirect,
  send,
  sendJson,
  type SandboxRouteContext,
  type SandboxRouteOptions,
} from './sandbox-http';
import type { PendingAuthorization } from './sandbox-state';
import { SCOPE_DESCRIPTIONS } from './sandbox-views';
import {
  duplicatedParameter,
  flatTokenBody,
  INSTAGRAM_LOGIN_SCOPES,
  parameter,
  redirectWithParams,
  SCOPE_BASIC,
  type ScriptedResponse,
  tokenError,
  wrappedTokenBody,
} from './sandbox-wire';

/**
 * Instagram Login's OAuth endpoints: the authorize page of www.instagram.com (validation, consent
 * screen, the person's decision) and api.instagram.com's code exchange. See docs/instagram-platform.md.
 */
export function mountInstagramOAuthRoutes(router: Router, context: SandboxRouteContext): void {
  router.get('/oauth/authorize', context.endpoint('authorize'), async (req, res) => {
    const checked = checkAuthorizeRequest(queryOf(req), context.options);
    if ('problem' in checked) return context.errorPage(res, 400, ...checked.problem);
    const { clientId, redirectUri, scopes, forceReauth } = checked;
    const requestId = context.state.addPending(checked);
    return context.page(res, 200, 'consent', {
      title: 'Allow access',
      requestId,
      clientId,
      redirectHost: new URL(redirectUri).host,
      forceReauth,
      accounts: context.state.accounts().map(context.accountCard),
      scopes: scopes.map((scope) => ({
        name: scope,
        description: SCOPE_DESCRIPTIONS[scope] ?? scope,
        required: scope === SCOPE_BASIC,
      })),
    });
  });

  router.post('/oauth/authorize', formBody('8kb'), (req, res) => decide(context, formOf(req), res));

  router.post('/oauth/access_token', context.endpoint('token'), formBody('16kb'), (req, res) => {
    const answer = exchangeCode(context, formOf(req));
    if (typeof answer === 'string') sendJson(res, answer);
    else send(res, answer);
  });
}

/** A failure on the code exchange answers in that endpoint's error shape, which its clients parse. */
export function oauthFailure(path: string, client: boolean): ScriptedResponse | undefined {
  if (path !== '/oauth/access_token') return undefined;
  return tokenError(client ? 'Malformed request' : 'An unexpected error has occurred');
}

type AuthorizeCheck = { problem: [title: string, detail: string] } | Omit<PendingAuthorization, 'expiresAt'>;

/** Step 1: what www.instagram.com refuses before it shows the consent screen, in its order. */
function checkAuthorizeRequest(params: URLSearchParams, options: SandboxRouteOptions): AuthorizeCheck {
  const duplicated = duplicatedParameter(params);
  if (duplicated) return { problem: ['Invalid request', `The parameter ${duplicated} was given more than once.`] };
  const clientId = params.get('client_id');
  if (clientId !== options.clientId) {
    return {
      problem: [
        'Invalid platform app',
        'The client_id is not the Instagram app id of this app (App Dashboard > Instagram > API setup with Instagram login).',
      ],
    };
  }
  const redirectUri = params.get('redirect_uri');
  if (redirectUri === null || !options.redirectUris.includes(redirectUri)) {
    return {
      problem: [
        'Invalid redirect_uri',
        'The redirect_uri must match a registered one exactly: scheme, host, port, path and trailing slash.',
      ],
    };
  }
  if (params.get('response_type') !== 'code') {
    return { problem: ['Invalid response_type', 'Instagram Login only supports response_type=code.'] };
  }
  // Comma-separated only: a space or `+` stays part of a name, which then fails as an invalid scope.
  const scopes = [...new Set((params.get('scope') ?? '').split(',').filter((s) => s !== ''))];
  const invalid = scopes.filter((scope) => !INSTAGRAM_LOGIN_SCOPES.includes(scope));
  if (invalid.length > 0) {
    return {
      problem: [
        `Invalid Scopes: ${invalid.join(', ')}`,
        'Instagram Login accepts only the instagram_business_* scopes, comma-separated. Basic Display (user_profile, user_media), the retired business_* names and Facebook Login scopes are refused.',
      ],
    };
  }
  if (!scopes.includes(SCOPE_BASIC)) {
    return {
      problem: [
        `Invalid Scopes: ${SCOPE_BASIC} is required`,
        `Every Instagram Login request must include ${SCOPE_BASIC}.`,
      ],
    };
  }
  const forceReauth = params.has('force_reauth') && params.get('force_reauth') !== 'false';
  return { clientId, redirectUri, scopes, state: params.get('state') ?? undefined, forceReauth };
}

/** Step 2: the person's answer on the consent screen, sent back to the registered redirect URI. */
async function decide(context: SandboxRouteContext, form: URLSearchParams, res: Response) {
  const { state, errorPage } = context;
  const duplicated = duplicatedParameter(form, ['request', 'decision', 'account']);
  if (duplicated) {
    return errorPage(res, 400, 'Invalid request', `The field ${duplicated} was given more than once.`);
  }
  // Only the server-side record counts: client_id, redirect_uri and scopes are never read from the form.
  const pending = state.takePending(form.get('request') ?? '');
  if (!pending) {
    return errorPage(
      res,
      400,
      'This request is no longer valid',
      'The authorization request is unknown, expired or was already answered. Start again from the app.',
    );
  }
  const stateParam: Array<[string, string]> = pending.state === undefined ? [] : [['state', pending.state]];
  const decision = form.get('decision');
  if (decision === 'deny') {
    return redirect(
      res,
      302,
      redirectWithParams(pending.redirectUri, [
        ['error', 'access_denied'],
        ['error_reason', 'user_denied'],
        ['error_description', 'The user denied your request'],
        ...stateParam,
      ]),
    );
  }
  if (decision !== 'allow') return errorPage(res, 400, 'Invalid request', 'Choose Allow or Deny.');
  const accountId = parameter(form, 'account');
  const account = accountId === undefined ? state.accounts()[0] : state.findAccount(accountId);
  if (!account) return errorPage(res, 400, 'Unknown account', 'Pick one of the listed test accounts.');
  // Optional scopes can be declined; scopes that were not requested cannot be added here.
  const ticked = form.getAll('scopes');
  const granted = pending.scopes.filter((scope) => scope === SCOPE_BASIC || ticked.includes(scope));
  const code = state.issueCode({
    clientId: pending.clientId,
    redirectUri: pending.redirectUri,
    igUserId: account.igUserId,
    scopes: granted,
  });
  return redirect(res, 302, redirectWithParams(pending.redirectUri, [['code', code], ...stateParam]));
}

/** Step 3: code → short-lived token. Returns the token body (JSON text) or the error to send. */
function exchangeCode(context: SandboxRouteContext, form: URLSearchParams): string | ScriptedResponse {
  const { state, options } = context;
  // The code works once: the first presentation burns it, even if this exchange fails for another reason.
  const codes = form.getAll('code');
  const record = codes.length === 1 && codes[0] ? state.consumeCode(codes[0]) : undefined;

  const fields = ['client_id', 'client_secret', 'grant_type', 'redirect_uri', 'code'];
  const bad = duplicatedParameter(form, fields) ?? fields.find((field) => parameter(form, field) === undefined);
  if (bad) return tokenError(`Missing or duplicated parameter ${bad}`);
  const clientId = form.get('client_id');
  if (clientId !== options.clientId) return tokenError('Invalid platform app');
  if (form.get('client_secret') !== options.clientSecret) return tokenError('Error validating client secret');
  if (form.get('grant_type') !== 'authorization_code') return tokenError('Unsupported grant_type');
  if (!record || record.clientId !== clientId) return tokenError('Matching code was not found or was already used');
  if (form.get('redirect_uri') !== record.redirectUri) return tokenError('Invalid redirect_uri');
  const account = state.findAccount(record.igUserId);
  if (!account) return tokenError('Matching code was not found or was already used');
  if (!account.tester) return tokenError('Insufficient developer role');

  const accessToken = state.issueToken(account, 'short', record.scopes);
  // Both shapes are documented by Meta; neither carries token_type or expires_in.
  return state.responseShape === 'flat'
    ? flatTokenBody(accessToken, account.appScopedId, record.scopes)
    : wrappedTokenBody(accessToken, account.appScopedId, record.scopes);
}
