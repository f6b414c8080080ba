import type { Request, Response, Router } from 'express';
import type { FacebookPending } from './facebook-state';
import {
  CONFIG_ID_SCOPES,
  FACEBOOK_LOGIN_SCOPES,
  FACEBOOK_REQUIRED_SCOPES,
  type FacebookEndpoint,
  SCOPE_BUSINESS_MANAGEMENT,
} from './facebook-wire';
import {
  formBody,
  formOf,
  queryOf,
  redirect,
  routeParam,
  type SandboxRouteContext,
  scriptedEndpoint,
} from './sandbox-http';
import { FACEBOOK_SCOPE_DESCRIPTIONS } from './sandbox-views';
import { duplicatedParameter, parameter, redirectWithParams } from './sandbox-wire';

/**
 * Facebook's login dialog (`www.facebook.com/<version>/dialog/oauth`) as Facebook Login for Business shows
 * it: the checks it makes before showing anything, the consent screen with granular Page and Instagram
 * account choices, and the person's answer sent back to the registered redirect URI with `#_=_`.
 */

export const GRAPH_VERSION = /^v\d+\.\d+$/;

/** Counts the request under `endpoint` and plays its next scripted answer, if any. */
export function facebookEndpoint(context: SandboxRouteContext, endpoint: FacebookEndpoint) {
  return scriptedEndpoint(
    () => context.facebook.count(endpoint),
    () => context.facebook.takeScript(endpoint),
  );
}

export function mountFacebookDialogRoutes(router: Router, context: SandboxRouteContext): void {
  router.get('/facebook/:version/dialog/oauth', facebookEndpoint(context, 'fb_dialog'), async (req, res) => {
    const checked = checkDialogRequest(req, context);
    if ('problem' in checked) return context.errorPage(res, 400, ...checked.problem, 'Facebook');
    const requestId = context.facebook.addPending(checked);
    const { facebook, options } = context;
    return context.page(res, 200, 'facebook-consent', {
      title: 'Log in with Facebook',
      brand: 'Facebook',
      formAction: `${options.basePath}/facebook/${routeParam(req, 'version')}/dialog/oauth`,
      requestId,
      clientId: checked.clientId,
      appName: options.facebook.appName,
      redirectHost: new URL(checked.redirectUri).host,
      businessRequested: checked.scopes.includes(SCOPE_BUSINESS_MANAGEMENT),
      people: facebook.people().map((person) => ({
        id: person.id,
        name: person.name,
        tester: person.tester,
        pages: facebook.pagesOf(person).map((page) => ({
          id: page.id,
          name: page.name,
          category: page.category,
          businessOwned: page.businessOwned,
          instagram: page.instagram && {
            id: page.instagram.id,
            username: page.instagram.username,
            avatarUrl: `${options.basePath}/facebook/avatars/${page.instagram.id}.svg`,
          },
        })),
      })),
      scopes: checked.scopes.map((scope) => ({
        name: scope,
        description: FACEBOOK_SCOPE_DESCRIPTIONS[scope] ?? scope,
        required: FACEBOOK_REQUIRED_SCOPES.includes(scope),
      })),
    });
  });

  router.post('/facebook/:version/dialog/oauth', formBody('8kb'), (req, res) => decide(context, formOf(req), res));
}

type DialogCheck = { problem: [title: string, detail: string] } | Omit<FacebookPending, 'expiresAt'>;

/** What the dialog refuses before it shows the consent screen, in its order. */
function checkDialogRequest(req: Request, context: SandboxRouteContext): DialogCheck {
  if (!GRAPH_VERSION.test(routeParam(req, 'version'))) {
    return {
      problem: ['Unsupported version', 'The dialog URL must name a Graph API version, like /v25.0/dialog/oauth.'],
    };
  }
  const params = queryOf(req);
  const duplicated = duplicatedParameter(params);
  if (duplicated) return { problem: ['Invalid request', `The parameter ${duplicated} was given more than once.`] };
  const clientId = params.get('client_id');
  if (clientId !== context.facebook.clientId) {
    return {
      problem: [
        'Invalid App ID',
        'The provided app ID does not look like a valid app ID. Use the App ID at the top of the App Dashboard (Facebook Login for Business), not the Instagram app id.',
      ],
    };
  }
  const redirectUri = params.get('redirect_uri');
  if (redirectUri === null || !context.options.facebook.redirectUris.includes(redirectUri)) {
    return {
      problem: [
        'URL blocked',
        "This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings. Add it exactly (scheme, host, port, path, trailing slash) to Facebook Login for Business > Settings > Valid OAuth Redirect URIs.",
      ],
    };
  }
  if (params.get('response_type') !== 'code') {
    return { problem: ['Invalid response_type', 'This app must ask for response_type=code.'] };
  }
  const configId = params.get('config_id');
  let scopes: string[];
  if (configId !== null) {
    // A Login for Business configuration carries its own permission set; `scope` is then ignored.
    if (!/^\d{1,20}$/.test(configId)) {
      return {
        problem: ['Invalid config_id', 'The config_id must be the numeric id of a Login for Business configuration.'],
      };
    }
    scopes = [...CONFIG_ID_SCOPES];
  } else {
    // Comma-separated: a space or `+` stays part of a name, which then fails as an invalid scope.
    scopes = [...new Set((params.get('scope') ?? '').split(',').filter((s) => s !== ''))];
    const invalid = scopes.filter((scope) => !FACEBOOK_LOGIN_SCOPES.includes(scope));
    if (invalid.length > 0) {
      return {
        problem: [
          `Invalid Scopes: ${invalid.join(', ')}`,
          'Facebook Login accepts Facebook Login permission names only (instagram_basic, pages_show_list, business_management, …). The instagram_business_* names belong to Instagram Login and are refused here.',
        ],
      };
    }
    const missing = FACEBOOK_REQUIRED_SCOPES.filter((scope) => !scopes.includes(scope));
    if (missing.length > 0) {
      return {
        problem: [
          `Invalid Scopes: ${missing.join(' and ')} required`,
          'Ask for instagram_basic and pages_show_list: without them no Instagram account can be found behind the Pages.',
        ],
      };
    }
  }
  return { clientId, redirectUri, scopes, state: params.get('state') ?? undefined };
}

/** The person's answer. Only the server-side pending request counts: nothing of the app's is read from the form. */
async function decide(context: SandboxRouteContext, form: URLSearchParams, res: Response) {
  const { facebook } = context;
  const errorPage = (status: number, title: string, detail: string) =>
    context.errorPage(res, status, title, detail, 'Facebook');
  const duplicated = duplicatedParameter(form, ['request', 'decision', 'person']);
  if (duplicated) return errorPage(400, 'Invalid request', `The field ${duplicated} was given more than once.`);
  const pending = facebook.takePending(form.get('request') ?? '');
  if (!pending) {
    return errorPage(
      400,
      'This request is no longer valid',
      'The login request is unknown, expired or was already answered. Start again from the app.',
    );
  }
  const stateParam: Array<[string, string]> = pending.state === undefined ? [] : [['state', pending.state]];
  const decision = form.get('decision');
  if (decision === 'cancel') {
    return redirect(
      res,
      302,
      redirectWithParams(
        pending.redirectUri,
        [
          ['error', 'access_denied'],
          ['error_code', '200'],
          ['error_description', 'Permissions error'],
          ['error_reason', 'user_denied'],
          ...stateParam,
        ],
        '#_=_',
      ),
    );
  }
  if (decision !== 'allow') return errorPage(400, 'Invalid request', 'Choose Allow or Cancel.');
  const personId = parameter(form, 'person');
  const person = personId === undefined ? facebook.people()[0] : facebook.findPerson(personId);
  if (!person) return errorPage(400, 'Unknown person', 'Pick one of the listed test people.');
  if (!person.tester) {
    return errorPage(
      403,
      'App not active',
      'This app is in development mode: only people with a role on the app (administrators, developers, testers) can log in. Add the person under App roles, or switch the app to Live.',
    );
  }
  // Optional permissions can be declined; permissions that were not requested cannot be added here.
  const ticked = form.getAll('scopes');
  const scopes = pending.scopes.filter((scope) => FACEBOOK_REQUIRED_SCOPES.includes(scope) || ticked.includes(scope));
  // Granular consent: only the Pages (and their Instagram accounts) left ticked are shared.
  const chosenPages = form.getAll('pages');
  const chosenAccounts = form.getAll('instagram_accounts');
  const pages = facebook.pagesOf(person).filter((page) => chosenPages.includes(page.id));
  const igUserIds = pages.flatMap((page) =>
    page.instagram && chosenAccounts.includes(page.instagram.id) ? [page.instagram.id] : [],
  );
  const code = facebook.authorize({
    clientId: pending.clientId,
    redirectUri: pending.redirectUri,
    personId: person.id,
    grant: { scopes, pageIds: pages.map((page) => page.id), igUserIds },
  });
  return redirect(res, 302, redirectWithParams(pending.redirectUri, [['code', code], ...stateParam], '#_=_'));
}
