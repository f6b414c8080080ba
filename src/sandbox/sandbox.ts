import express, { type ErrorRequestHandler } from 'express';
import type { Clock } from '../shared/clock';
import { FacebookSandboxControlImpl } from './facebook-control';
import { type FacebookPerson, SANDBOX_FACEBOOK_PEOPLE } from './facebook-people';
import { FacebookState } from './facebook-state';
import { SANDBOX_FACEBOOK_APP_ID, SANDBOX_FACEBOOK_APP_NAME, SANDBOX_FACEBOOK_APP_SECRET } from './facebook-wire';
import type { CallbackUrls } from './sandbox-callbacks';
import { SANDBOX_TEST_ACCOUNTS, type SandboxAccount } from './sandbox-accounts';
import { type SandboxControl, SandboxControlImpl } from './sandbox-control';
import { createSandboxRouter } from './sandbox-routes';
import { SandboxState } from './sandbox-state';
import type { ResponseShape } from './sandbox-wire';

/**
 * The built-in fake Instagram, both ways in: Instagram Login (its URLs at the mount point) and Facebook
 * Login for Business (below `/facebook`). Same URLs relative to the mount point, same wire shapes and
 * errors as the real ones (docs/instagram-platform.md), driven by one injected clock and steerable
 * through SandboxControl. See CONTEXT.md in this folder.
 */

export { SANDBOX_TEST_ACCOUNTS } from './sandbox-accounts';
export { signRequest, type CallbackUrls } from './sandbox-callbacks';
export type { SandboxAccount, SandboxProfileUpdate } from './sandbox-accounts';
export type { SandboxControl, SandboxTokenInfo } from './sandbox-control';
export type {
  FacebookSandboxControl,
  FacebookSeededTokens,
  FacebookSeedOptions,
  FacebookTokenInfo,
} from './facebook-control';
export {
  SANDBOX_FACEBOOK_PEOPLE,
  type FacebookInstagramAccount,
  type FacebookInstagramAccountUpdate,
  type FacebookPage,
  type FacebookPerson,
} from './facebook-people';
export {
  FACEBOOK_LOGIN_SCOPES,
  OEMBED_POSTS,
  SANDBOX_FACEBOOK_APP_ID,
  SANDBOX_FACEBOOK_APP_SECRET,
  type FacebookEndpoint,
} from './facebook-wire';
export type { InvalidationReason } from './sandbox-state';
export {
  graphError,
  INSTAGRAM_LOGIN_SCOPES,
  LONG_LIVED_EXPIRES_IN_SECONDS,
  tokenError,
  type ResponseShape,
  type SandboxEndpoint,
  type ScriptedResponse,
} from './sandbox-wire';

export interface SandboxOptions {
  clock: Clock;
  /** The Instagram app id the sandbox accepts. */
  clientId: string;
  clientSecret: string;
  /** Registered redirect URIs, matched byte for byte. */
  redirectUris: string[];
  /** Where the router is mounted, e.g. '/sandbox' (form actions, links, avatar URLs). */
  basePath: string;
  /** Absolute origin the sandbox is reachable at, e.g. 'http://localhost:3000' (absolute avatar URLs). */
  publicUrl: string;
  /** Default 'flat'. */
  responseShape?: ResponseShape;
  /** Default: SANDBOX_TEST_ACCOUNTS. */
  accounts?: SandboxAccount[];
  /** Where to send Meta's signed deauthorize and data-deletion callbacks (the app's webhook URLs). */
  callbacks?: CallbackUrls;
  /** Optional: unexpected (5xx) failures are reported here (a pino logger fits). Answers never show them. */
  logger?: { error(details: object, message: string): void };
  /** The Facebook app of the Facebook Login for Business surface. Default: the built-in one, no redirect URI. */
  facebook?: FacebookSandboxOptions;
}

export interface FacebookSandboxOptions {
  /** The Facebook app id the dialog and the Graph accept. Default SANDBOX_FACEBOOK_APP_ID. */
  clientId?: string;
  /** Default SANDBOX_FACEBOOK_APP_SECRET; also signs the Facebook callbacks. */
  clientSecret?: string;
  /** Valid OAuth Redirect URIs, matched byte for byte. */
  redirectUris: string[];
  /** Where to send the signed deauthorize and data-deletion callbacks (the app's Facebook webhook URLs). */
  callbacks?: CallbackUrls;
  /** Default: SANDBOX_FACEBOOK_PEOPLE. */
  people?: FacebookPerson[];
  /** debug_token's `application`. */
  appName?: string;
}

export interface Sandbox {
  router: express.Router;
  control: SandboxControl;
}

function normaliseBasePath(basePath: string): string {
  const trimmed = basePath.replace(/\/+$/, '');
  if (trimmed !== '' && !trimmed.startsWith('/')) throw new Error(`sandbox basePath must start with '/': ${basePath}`);
  return trimmed;
}

export function createSandbox(options: SandboxOptions): Sandbox {
  const state = new SandboxState(
    options.clock,
    options.clientId,
    options.accounts ?? SANDBOX_TEST_ACCOUNTS,
    options.responseShape ?? 'flat',
  );
  const fb = options.facebook ?? { redirectUris: [] };
  const facebook = new FacebookState(
    options.clock,
    fb.clientId ?? SANDBOX_FACEBOOK_APP_ID,
    fb.clientSecret ?? SANDBOX_FACEBOOK_APP_SECRET,
    fb.people ?? SANDBOX_FACEBOOK_PEOPLE,
  );
  const control = new SandboxControlImpl(
    state,
    new FacebookSandboxControlImpl(facebook, fb.callbacks),
    options.callbacks ? { ...options.callbacks, secret: options.clientSecret } : undefined,
  );
  const router = createSandboxRouter(state, facebook, control, {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    redirectUris: [...options.redirectUris],
    basePath: normaliseBasePath(options.basePath),
    publicUrl: options.publicUrl.replace(/\/+$/, ''),
    logger: options.logger,
    facebook: { redirectUris: [...fb.redirectUris], appName: fb.appName ?? SANDBOX_FACEBOOK_APP_NAME },
  });
  return { router, control };
}

/**
 * The sandbox as an app of its own (run it as a separate process, or in tests). Its CSP has no
 * form-action: the consent form's answer redirects to the app's callback on another origin, and
 * browsers apply form-action to that redirect.
 */
export function createSandboxAppWithControl(options: SandboxOptions): {
  app: express.Express;
  control: SandboxControl;
} {
  const sandbox = createSandbox(options);
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });
  app.use(normaliseBasePath(options.basePath) || '/', sandbox.router);
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });
  const onError: ErrorRequestHandler = (_err, _req, res, _next) => {
    res.status(500).type('text/plain').send('Sandbox error');
  };
  app.use(onError);
  return { app, control: sandbox.control };
}

export function createSandboxApp(options: SandboxOptions): express.Express {
  return createSandboxAppWithControl(options).app;
}
