/**
 * Where a connect link sends the browser back to: the deployer's `return_url`, checked when the link is
 * made so igconnect never becomes an open redirect. Only http(s), no credentials, a bounded length, an
 * origin the deployer allowed (PUBLIC_URL's, or one of RETURN_URL_ORIGINS), and none of the parameters
 * igconnect appends (the deployer's page could otherwise read its own value instead of ours).
 */
export const RETURN_URL_MAX_LENGTH = 2048;

/** The parameters igconnect appends to `return_url`. */
export const RETURN_PARAMETERS = ['connection_id', 'status', 'error'] as const;

/** Why `value` cannot be a return URL, for the API's 400; undefined when it can. */
export function returnUrlProblem(value: string, allowedOrigins: readonly string[]): string | undefined {
  if (value.length > RETURN_URL_MAX_LENGTH) return `must be at most ${RETURN_URL_MAX_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an absolute http(s) URL';
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password';
  if (!allowedOrigins.includes(url.origin)) {
    return `origin ${url.origin} is not allowed (PUBLIC_URL's origin or one listed in RETURN_URL_ORIGINS)`;
  }
  const taken = RETURN_PARAMETERS.filter((name) => url.searchParams.has(name));
  if (taken.length > 0) return `must not carry ${taken.join(', ')}: igconnect appends them`;
  return undefined;
}

/**
 * `returnUrl` with `params` appended to its query. Its own query is kept byte for byte (re-serializing
 * it through URLSearchParams would re-encode what the deployer wrote); a fragment stays last.
 */
export function withReturnParameters(returnUrl: string, params: [string, string][]): string {
  const url = new URL(returnUrl);
  const added = new URLSearchParams(params).toString();
  url.search = url.search.length > 1 ? `${url.search}&${added}` : `?${added}`;
  return url.href;
}
