import { z } from 'zod';

/**
 * Reading environment variables through zod schemas, one variable at a time, so that every problem of a
 * configuration is collected and reported together (a failed variable never hides the next one's
 * problem). A blank value counts as unset. Values are validated, never silently repaired.
 */
export type Env = Record<string, string | undefined>;

export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  /** The trimmed value, or undefined when unset or blank. */
  raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  /** Parses the variable (or `fallback` when unset); a failure records the schema's message. */
  read<T>(name: string, schema: z.ZodType<T, string>, fallback?: string): T | undefined {
    const value = this.raw(name) ?? fallback;
    if (value === undefined) return undefined;
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    this.problems.push(result.error.issues[0]?.message ?? `${name} is invalid`);
    return undefined;
  }

  problem(message: string): void {
    this.problems.push(message);
  }
}

/** Digits only (no sign, exponent or fraction), then bounds; one message for every way it can fail. */
export function wholeNumber(message: string, min: number, max: number): z.ZodType<number, string> {
  return z
    .string()
    .regex(/^\d+$/, { error: message })
    .transform(Number)
    .pipe(z.number().min(min, { error: message }).max(max, { error: message }));
}

export function rangeMessage(name: string, min: number, max: number): string {
  return `${name} must be a whole number from ${min} to ${max}`;
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, message: string) {
  return z.enum(values, { error: message });
}

export function trueOrFalse(message: string): z.ZodType<boolean, string> {
  return z.enum(['true', 'false'], { error: message }).transform((value) => value === 'true');
}

/** An absolute http(s) URL. */
export function httpUrl(message: string): z.ZodType<string, string> {
  return z.url({ protocol: /^https?$/, error: message });
}

export function parseHttpUrl(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}
