import { AppError } from '../shared/errors';

/**
 * The callback's query, strictly: each known parameter at most once and a bounded string. Express's
 * parser turns `?code=a&code=b` into an array, which passport-oauth2 would forward as two codes.
 * Unknown parameters (including implicit-flow `access_token`/`token`) are ignored, never used.
 */
export interface CallbackParams {
  state?: string;
  code?: string;
  error?: string;
  errorReason?: string;
}

const LIMITS = { state: 512, code: 2048, error: 128, error_reason: 128, error_description: 1024 } as const;

export function parseCallbackParams(query: unknown): CallbackParams {
  const source = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>;
  const read = (name: keyof typeof LIMITS): string | undefined => {
    if (!Object.prototype.hasOwnProperty.call(source, name)) return undefined;
    const value = source[name];
    if (typeof value !== 'string') throw new AppError('BAD_REQUEST', `callback parameter ${name} must appear once`);
    if (value.length === 0 || value.length > LIMITS[name]) {
      throw new AppError('BAD_REQUEST', `callback parameter ${name} is empty or too long`);
    }
    return value;
  };
  read('error_description'); // validated for shape only; provider text is never shown or trusted
  return { state: read('state'), code: read('code'), error: read('error'), errorReason: read('error_reason') };
}
