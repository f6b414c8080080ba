/**
 * The few error classes igconnect throws. Each carries a stable `code` (views pick their words by it),
 * an HTTP `status`, and an optional `cause`. Route handlers throw; one error handler renders.
 * `detail` is for the deployer (shown collapsed on error pages, logged): never a token, code or secret.
 */
export const ErrorCodes = {
  BAD_REQUEST: 400,
  STATE_INVALID: 400,
  CSRF_FAILED: 403,
  WEBHOOK_REJECTED: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  BUSY: 409,
  NEEDS_RECONNECT: 409,
  REFRESH_TOO_EARLY: 409,
  NOT_RENEWABLE: 409,
  CONNECT_CANCELLED: 200,
  CONNECT_LINK_GONE: 410,
  /** The authorization reached no account igconnect can connect (no Page shared with a linked account). */
  CONNECT_NO_ACCOUNTS: 200,
  /** A pending choice of accounts was used already or is too old. */
  CHOICE_EXPIRED: 410,
  PROVIDER_CODE_USED: 400,
  PROVIDER_TESTER_ROLE: 403,
  PROVIDER_PERMISSION: 403,
  PROVIDER_REDIRECT_URI_MISMATCH: 502,
  PROVIDER_INVALID_APP: 502,
  PROVIDER_INVALID_SECRET: 502,
  PROVIDER_INVALID_SCOPE: 502,
  PROVIDER_TOKEN_INVALID: 502,
  PROVIDER_REJECTED: 502,
  PROVIDER_BAD_RESPONSE: 502,
  PROVIDER_IDENTITY_MISMATCH: 502,
  PROVIDER_THROTTLED: 503,
  PROVIDER_UNAVAILABLE: 503,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    super(detail ? `${code}: ${detail}` : code, options);
    this.name = 'AppError';
    this.status = ErrorCodes[code];
  }
}

/**
 * What a provider's failure means for a stored connection, decided by the provider that answered
 * (src/providers): the token is dead (`reconnect`), a permission is missing, slow down (`throttled`, for
 * `retryAfterMs`), try again later (`transient`), or a refusal for another reason (`refused`). `reason`
 * is a short word for pages, logs and the API, such as `revoked` or `password_changed`.
 */
export type FailureKind = 'reconnect' | 'permission' | 'throttled' | 'transient' | 'refused';

export interface ProviderFailure {
  kind: FailureKind;
  reason: string;
  retryAfterMs?: number;
}

/** A provider (or the network in between) failed; `failure` says what that means for a connection. */
export class ProviderError extends AppError {
  /**
   * What failed, the same for every connection that fails the same way (kind, the provider's error code
   * and subcode, its message with numbers blanked): many connections with one signature at once is the
   * provider's incident, not theirs (src/incidents). Never holds a token or an id of a person.
   */
  readonly signature: string;

  constructor(
    code: ErrorCode,
    detail: string,
    readonly failure: ProviderFailure,
    options?: { cause?: unknown; signature?: string },
  ) {
    super(code, detail, options);
    this.name = 'ProviderError';
    this.signature = options?.signature ?? `${failure.kind}:${failure.reason}`;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
