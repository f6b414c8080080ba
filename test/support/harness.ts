import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import supertest from 'supertest';
import { type Config, loadConfig } from '../../src/config/config';
import { createApp } from '../../src/http/create-app';
import { type Container, createContainer } from '../../src/main/container';
import type { SandboxControl } from '../../src/sandbox/sandbox';
import { ManualClock } from '../../src/shared/clock';
import { createTestDatabase, TEST_DATABASE_URL } from './postgres';

export type Agent = ReturnType<typeof supertest.agent>;

export interface TestApp {
  url: string;
  server: Server;
  container: Container;
  sandbox: SandboxControl;
  clock: ManualClock;
  /** Every log line the app wrote, as JSON text. */
  logs: string[];
  dbFile: string;
  /** The environment the app was configured from: another process given it joins the same deployment. */
  env: Record<string, string>;
  /** The DATABASE_URL the app runs on: the SQLite file, or its own PostgreSQL database under `npm run test:pg`. */
  databaseUrl: string;
  agent(): Agent;
  close(): Promise<void>;
}

export const TEST_SESSION_SECRET = 'test-session-secret-0123456789abcdefghijklmnop';

/**
 * The real app on a real port with a fresh SQLite file (or, when TEST_DATABASE_URL is set, a fresh
 * PostgreSQL database dropped on close), its built-in sandbox mounted at /sandbox, and a manual clock.
 * The app reaches the sandbox over real HTTP, exactly as `npm start` does.
 */
export async function startTestApp(
  options: {
    /** Extra environment; a function receives the app's own loopback URL (e.g. to point Instagram URLs at it). */
    env?: Record<string, string> | ((url: string) => Record<string, string>);
    start?: number;
    /** Changes the parsed configuration before the app is built (settings the environment cannot express yet). */
    configure?: (config: Config) => void;
  } = {},
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'igconnect-test-'));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const dbFile = join(dir, 'igconnect.db');
  const extraEnv = typeof options.env === 'function' ? options.env(url) : options.env;
  const postgres = TEST_DATABASE_URL && !extraEnv?.DATABASE_URL ? await createTestDatabase() : undefined;
  const databaseUrl = extraEnv?.DATABASE_URL ?? postgres?.url ?? `sqlite:${dbFile}`;
  const env = {
    NODE_ENV: 'test',
    PUBLIC_URL: url,
    DATABASE_URL: databaseUrl,
    SESSION_SECRET: TEST_SESSION_SECRET,
    TOKEN_ENCRYPTION_KEYS: `t1:${randomBytes(32).toString('base64')}`,
    LOG_LEVEL: 'debug',
    ...extraEnv,
  };
  const config = loadConfig(env);
  options.configure?.(config);
  const clock = new ManualClock(options.start ?? Date.UTC(2026, 10, 1, 12, 0, 0));
  const logs: string[] = [];
  const container = await createContainer(config, {
    clock,
    logDestination: { write: (line: string) => logs.push(line) },
  });
  server.on('request', createApp(container));
  if (!container.sandbox) throw new Error('test app expected the built-in sandbox');
  return {
    url,
    server,
    container,
    sandbox: container.sandbox.control,
    clock,
    logs,
    dbFile,
    env,
    databaseUrl,
    agent: () => supertest.agent(server),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await container.close();
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Path and query of an absolute URL, without the fragment (a browser never sends `#_`). */
export function pathOf(location: string): string {
  const url = new URL(location);
  return `${url.pathname}${url.search}`;
}

export interface AuthorizeOptions {
  /** Instagram professional account id of the sandbox test account to pick. */
  account?: string;
  decision?: 'allow' | 'deny';
  /** Optional scopes to leave ticked; default all requested. */
  scopes?: string[];
  switchAccount?: boolean;
  /** The path that starts the flow, e.g. a connect link's; default the home page's start route. */
  startPath?: string;
}

/**
 * Clicks through the start route and the sandbox consent screen like a browser would, and returns the
 * callback URL Instagram (the sandbox) sent the browser to, without following it.
 */
export async function authorize(agent: Agent, options: AuthorizeOptions = {}): Promise<string> {
  const start = await agent.get(
    options.startPath ?? (options.switchAccount ? '/auth/instagram?switch=1' : '/auth/instagram'),
  );
  if (start.status !== 302) throw new Error(`start route answered ${start.status}`);
  const authorizeUrl = new URL(start.headers.location as string);
  const consent = await agent.get(pathOf(authorizeUrl.toString()));
  if (consent.status !== 200) throw new Error(`sandbox consent answered ${consent.status}: ${consent.text}`);
  const request = /name="request"\s+value="([^"]+)"/.exec(consent.text)?.[1];
  if (!request) throw new Error('no pending request id on the consent page');
  const requested = (authorizeUrl.searchParams.get('scope') ?? '').split(',');
  const form = new URLSearchParams({ request, decision: options.decision ?? 'allow' });
  if (options.account) form.set('account', options.account);
  for (const scope of options.scopes ?? requested.filter((s) => s !== 'instagram_business_basic')) {
    form.append('scopes', scope);
  }
  const decided = await agent.post('/sandbox/oauth/authorize').type('form').send(form.toString());
  if (decided.status !== 302) throw new Error(`sandbox consent post answered ${decided.status}: ${decided.text}`);
  return decided.headers.location as string;
}

/**
 * Follows the callback like a browser: a cancel or a refusal by Instagram answers 303 to the clean
 * result page, which is followed; success (303 to /account) and direct refusals are returned as they are.
 */
export async function finishCallback(agent: Agent, callbackUrl: string) {
  const callback = await agent.get(pathOf(callbackUrl));
  const location = callback.headers.location as string | undefined;
  if (callback.status === 303 && location && /^\/auth\/[a-z]+\/result$/.test(location)) return agent.get(location);
  return callback;
}

/** The whole flow: authorize, then follow the callback (see finishCallback). */
export async function connect(agent: Agent, options: AuthorizeOptions = {}) {
  return finishCallback(agent, await authorize(agent, options));
}

export const ODD_ACCOUNT = { igUserId: '17841405793187219', appScopedId: '26173461234567891' };

/** Cookie value of the session cookie in a response, if it set one. */
export function sessionCookie(response: { headers: Record<string, unknown> }): string | undefined {
  const cookies = (response.headers['set-cookie'] as string[] | undefined) ?? [];
  return cookies.find((c) => c.startsWith('igconnect.sid='))?.split(';')[0];
}
