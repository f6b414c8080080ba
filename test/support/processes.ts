import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { TEST_SESSION_SECRET } from './harness';

/**
 * Real igconnect processes for multi-instance tests: the built entry points (`npm test` builds first)
 * started with their own environment, like a deployment runs them. Reuse these for anything that needs
 * several processes on one database (web instances, keepers, the standalone sandbox).
 */
const ROOT = join(__dirname, '../..');
export const WEB_ENTRY = join(ROOT, 'dist/src/main/web.js');
export const SANDBOX_ENTRY = join(ROOT, 'dist/src/main/sandbox-server.js');

/** A port free right now on 127.0.0.1 (the OS picks it; the caller binds it soon after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface RunningProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** True while the process has not exited. */
  alive(): boolean;
  /** SIGTERM, then waits for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL at once, like a crash or an OOM kill. */
  kill(): Promise<void>;
}

/** Spawns `node <entry>` with exactly `env` (plus PATH), collecting its output; stop() and kill() wait for the exit. */
function spawnNode(entry: string, env: Record<string, string>, url: string, port: number): RunningProcess {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build (npm test does it)`);
  const child = spawn(process.execPath, [entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running: RunningProcess = {
    url,
    port,
    child,
    output: () => output,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (!running.alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    kill: async () => {
      if (!running.alive()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  return running;
}

/** Starts `node <entry>` with exactly `env` (plus PATH) and waits until `readyPath` answers 200. */
export async function startProcess(
  entry: string,
  env: Record<string, string>,
  options: { port: number; readyPath: string },
): Promise<RunningProcess> {
  const url = `http://127.0.0.1:${options.port}`;
  const running = spawnNode(entry, env, url, options.port);
  try {
    await waitFor(async () => {
      if (!running.alive()) throw new Error(`process exited early:\n${running.output()}`);
      const response = await fetch(`${url}${options.readyPath}`);
      return response.status === 200 ? true : undefined;
    }, `${entry} on port ${options.port}`);
  } catch (error) {
    await running.kill();
    throw new Error(`${entry} did not become ready: ${(error as Error).message}\n${running.output()}`);
  }
  return running;
}

/** Secrets every instance of one deployment shares, like behind a load balancer. */
export function sharedSecrets(): Record<string, string> {
  return {
    SESSION_SECRET: TEST_SESSION_SECRET,
    TOKEN_ENCRYPTION_KEYS: `m1:${randomBytes(32).toString('base64')}`,
  };
}

/**
 * One igconnect web process (`node dist/src/main/web.js`) on its own port. The daily self-check is off
 * unless asked for: its probe of the token endpoint would count among the calls these tests count (the
 * canary has its own tests in test/incidents).
 */
export async function startWebProcess(env: Record<string, string>): Promise<RunningProcess> {
  const port = await freePort();
  return startProcess(
    WEB_ENTRY,
    { NODE_ENV: 'test', LOG_LEVEL: 'warn', CANARY_INTERVAL_HOURS: '0', ...env, PORT: String(port) },
    { port, readyPath: '/readyz' },
  );
}

export interface SandboxProcess extends RunningProcess {
  appId: string;
  appSecret: string;
  /** INSTAGRAM_* settings that point an app instance (live mode) at this sandbox. */
  instagramEnv: Record<string, string>;
  /** FACEBOOK_* settings that point an app instance (live mode) at this sandbox's Facebook surface. */
  facebookEnv: Record<string, string>;
  calls(): Promise<Record<string, number>>;
  facebookCalls(): Promise<Record<string, number>>;
}

/** The standalone sandbox (`npm run sandbox`), accepting the given redirect URIs (Instagram, then Facebook). */
export async function startSandboxProcess(
  redirectUris: string[],
  facebookRedirectUris: string[] = ['http://localhost:3000/auth/facebook/callback'],
): Promise<SandboxProcess> {
  const port = await freePort();
  const appId = '1000000000000001';
  const appSecret = 'multi-instance-sandbox-secret';
  const facebookAppId = '1000000000000009';
  const facebookAppSecret = 'multi-instance-sandbox-facebook-secret';
  const url = `http://127.0.0.1:${port}`;
  const running = await startProcess(
    SANDBOX_ENTRY,
    {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      SANDBOX_PORT: String(port),
      SANDBOX_PUBLIC_URL: url,
      SANDBOX_REDIRECT_URIS: redirectUris.join(','),
      INSTAGRAM_APP_ID: appId,
      INSTAGRAM_APP_SECRET: appSecret,
      FACEBOOK_APP_ID: facebookAppId,
      FACEBOOK_APP_SECRET: facebookAppSecret,
      SANDBOX_FACEBOOK_REDIRECT_URIS: facebookRedirectUris.join(','),
    },
    { port, readyPath: '/_control/calls' },
  );
  return {
    ...running,
    appId,
    appSecret,
    instagramEnv: {
      INSTAGRAM_APP_ID: appId,
      INSTAGRAM_APP_SECRET: appSecret,
      INSTAGRAM_AUTHORIZE_URL: `${url}/oauth/authorize`,
      INSTAGRAM_TOKEN_URL: `${url}/oauth/access_token`,
      INSTAGRAM_GRAPH_URL: `${url}/graph`,
    },
    facebookEnv: {
      FACEBOOK_APP_ID: facebookAppId,
      FACEBOOK_APP_SECRET: facebookAppSecret,
      FACEBOOK_AUTHORIZE_URL: `${url}/facebook/v25.0/dialog/oauth`,
      FACEBOOK_GRAPH_URL: `${url}/facebook/graph`,
    },
    calls: async () => (await (await fetch(`${url}/_control/calls`)).json()) as Record<string, number>,
    facebookCalls: async () => (await (await fetch(`${url}/_control/facebook/calls`)).json()) as Record<string, number>,
  };
}

export interface BrowserResponse {
  status: number;
  location: string | undefined;
  text: string;
}

/**
 * A browser reduced to what the flow needs: one cookie jar shared across ports (browsers scope cookies
 * by host, not port, so instances behind one balancer name see the same cookies), no automatic redirects.
 */
export class Browser {
  private readonly cookies = new Map<string, string>();

  async get(url: string): Promise<BrowserResponse> {
    return this.send(url, { method: 'GET' });
  }

  async postForm(url: string, form: Record<string, string> | URLSearchParams): Promise<BrowserResponse> {
    const body = form instanceof URLSearchParams ? form : new URLSearchParams(form);
    return this.send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
  }

  private async send(url: string, init: RequestInit): Promise<BrowserResponse> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set('cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    }
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const separator = pair.indexOf('=');
      const name = pair.slice(0, separator);
      const value = pair.slice(separator + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(cookie) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return {
      status: response.status,
      location: response.headers.get('location') ?? undefined,
      text: await response.text(),
    };
  }
}

/**
 * Clicks through "Connect to Instagram" with `browser`: starts on `startUrl`'s instance, answers the
 * consent screen wherever the start route sent the browser, and brings the callback to `callbackOrigin`
 * (another instance, to prove the flow needs no sticky sessions). Returns the callback's response.
 */
export async function connectAcross(
  browser: Browser,
  options: { startOrigin: string; callbackOrigin: string; account?: string },
): Promise<BrowserResponse> {
  const start = await browser.get(`${options.startOrigin}/auth/instagram`);
  if (start.status !== 302 || !start.location) throw new Error(`start answered ${start.status}`);
  const consent = await browser.get(start.location);
  if (consent.status !== 200) throw new Error(`consent answered ${consent.status}: ${consent.text}`);
  const request = /name="request"\s+value="([^"]+)"/.exec(consent.text)?.[1];
  if (!request) throw new Error('no pending request id on the consent page');
  const authorizeUrl = new URL(start.location);
  const form = new URLSearchParams({ request, decision: 'allow' });
  if (options.account) form.set('account', options.account);
  const decided = await browser.postForm(`${authorizeUrl.origin}${authorizeUrl.pathname}`, form);
  if (decided.status !== 302 || !decided.location) throw new Error(`consent post answered ${decided.status}`);
  const callback = new URL(decided.location);
  return browser.get(`${options.callbackOrigin}${callback.pathname}${callback.search}`);
}

export const WORKER_ENTRY = join(ROOT, 'dist/src/main/worker.js');

/** A keeper process (`npm run worker`); ready once it logs that its keeper started. */
export async function startWorkerProcess(env: Record<string, string>): Promise<RunningProcess> {
  const running = spawnNode(
    WORKER_ENTRY,
    { NODE_ENV: 'test', LOG_LEVEL: 'info', CANARY_INTERVAL_HOURS: '0', ...env },
    '',
    0,
  );
  await waitFor(async () => {
    if (!running.alive()) throw new Error(`worker exited early:\n${running.output()}`);
    return running.output().includes('keeper started') ? true : undefined;
  }, 'the worker to start its keeper');
  return running;
}
