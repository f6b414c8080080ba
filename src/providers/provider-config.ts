import type { EnvReader } from '../shared/env';

/**
 * Each provider parses its own section of the environment (its variables, defaults and refusals), from
 * the reader that src/config/config.ts hands it: config.ts stays the only reader of the environment, and
 * nothing outside a provider's files knows its variables.
 */
export interface ProviderConfigContext {
  reader: EnvReader;
  /** PUBLIC_URL, already validated: an origin without a trailing slash. */
  publicUrl: string;
  production: boolean;
  /** Where the built-in sandbox is mounted when a provider runs against it (`PUBLIC_URL` + its path). */
  sandboxUrl: string;
}

/** A provider URL setting: an absolute http(s) URL, https in production. Records problems on the reader. */
export function checkEndpoint(context: ProviderConfigContext, name: string, value: string): URL | undefined {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    context.reader.problem(`${name} must be an absolute http(s) URL (got "${value}")`);
    return undefined;
  }
  if (context.production && url.protocol !== 'https:') context.reader.problem(`${name} must use https in production`);
  return url;
}

/**
 * A redirect URI: absolute, on PUBLIC_URL's origin (the session cookie that guards the callback lives
 * there), ending in the provider's callback path, without query or fragment, https in production.
 */
export function checkRedirectUri(
  context: ProviderConfigContext,
  name: string,
  value: string,
  callbackPath: string,
): void {
  const { reader } = context;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    reader.problem(`${name} must be an absolute URL (got "${value}")`);
    return;
  }
  if (context.production && url.protocol !== 'https:') reader.problem(`${name} must use https in production`);
  const publicOrigin = new URL(context.publicUrl).origin;
  if (url.origin !== publicOrigin) {
    reader.problem(
      `${name} must be on PUBLIC_URL's origin ${publicOrigin}: the session cookie that guards the callback lives there`,
    );
  }
  if (url.pathname !== callbackPath && url.pathname !== `${callbackPath}/`) {
    reader.problem(`${name} must end in ${callbackPath} (got path "${url.pathname}")`);
  }
  if (url.search !== '' || url.hash !== '') reader.problem(`${name} must have no query string or fragment`);
}

/** `a,b,c` → ['a','b','c'], recording empty entries and duplicates as problems. */
export function scopeList(context: ProviderConfigContext, name: string, value: string): string[] {
  const scopes = value.split(',').map((s) => s.trim());
  if (scopes.includes('')) context.reader.problem(`${name} has an empty entry; separate scopes with commas`);
  if (new Set(scopes).size !== scopes.length) context.reader.problem(`${name} lists a scope twice`);
  return scopes.filter(Boolean);
}
