/**
 * What the Graph proxy lets through, as pure functions. The proxy calls its provider's API with a
 * connection's token, so what it builds must stay a plain path below the API's pinned base URL: no other
 * host, no other version, no way out of the base path. Graph paths are ids, edge names and `me` (letters,
 * digits, `_`, `-`, `.`), so everything else is refused rather than interpreted: schemes, `//`, `.` and
 * `..`, backslashes, empty segments, and any percent-encoding at all (an encoded `/`, `.` or `\`, or a
 * control character, is how a path escapes after being checked).
 */
const SEGMENT = /^[A-Za-z0-9_.-]{1,128}$/;
const MAX_SEGMENTS = 8;

export type GraphPathCheck = { ok: true; path: string } | { ok: false; reason: string };

/** The path exactly as sent after `prefix` (no decoding), from a request's raw URL. */
export function rawPathAfter(url: string, prefix: RegExp): string | undefined {
  const path = url.split('?', 1)[0] ?? '';
  const match = prefix.exec(path);
  return match ? path.slice(match[0].length) : undefined;
}

/** `raw` is what followed `/proxy/` in the request line, undecoded. */
export function checkGraphPath(raw: string): GraphPathCheck {
  if (raw === '') return { ok: false, reason: 'name a Graph path after /proxy/, e.g. /proxy/me' };
  if (raw.includes('%')) return { ok: false, reason: 'percent-encoded characters are not allowed in a Graph path' };
  if (raw.includes('\\')) return { ok: false, reason: 'backslashes are not allowed in a Graph path' };
  const segments = raw.split('/');
  if (segments.length > MAX_SEGMENTS) return { ok: false, reason: `at most ${MAX_SEGMENTS} path segments` };
  for (const segment of segments) {
    if (segment === '') return { ok: false, reason: 'empty path segments (// or a trailing /) are not allowed' };
    if (segment === '.' || segment === '..') return { ok: false, reason: '. and .. are not allowed in a Graph path' };
    if (!SEGMENT.test(segment)) {
      return { ok: false, reason: 'a Graph path is made of ids and names (letters, digits, _ - .) separated by /' };
    }
  }
  return { ok: true, path: raw };
}

/**
 * The caller's query string to pass on, less any `access_token` (the proxy sends the connection's token
 * itself, in a header; a token in the query would be used by Graph instead, and a bad one would mark the
 * connection for reconnecting). Read from the raw URL, so every parameter counts however many there are
 * (Express's parsed query stops at 1,000), in any spelling (`ACCESS_TOKEN`, `access%5Ftoken`,
 * `access_token[]`); the others go on exactly as sent.
 */
export function forwardedQuery(url: string): string {
  const index = url.indexOf('?');
  if (index === -1) return '';
  const kept = url
    .slice(index + 1)
    .split('&')
    .filter((pair) => pair !== '' && !TOKEN_PARAMETER.test(decodedName(pair)));
  return kept.join('&');
}

const TOKEN_PARAMETER = /^access_token(\[[^\]]*\])?$/i;

function decodedName(pair: string): string {
  const name = (pair.split('=', 1)[0] ?? '').replace(/\+/g, ' ');
  try {
    return decodeURIComponent(name);
  } catch {
    // A malformed escape is not `access_token` in any decoding; Graph will say what it makes of it.
    return name;
  }
}

/** The URL to call, checked once more to lie below `baseUrl` on its host. */
export function graphUrl(baseUrl: string, path: string, query: string): string | undefined {
  const url = `${baseUrl}/${path}${query === '' ? '' : `?${query}`}`;
  const base = new URL(baseUrl);
  const built = new URL(url);
  return built.origin === base.origin && built.pathname.startsWith(`${base.pathname}/`) ? url : undefined;
}
