import { parseArgs } from 'node:util';
import type { Container } from '../main/container';

/** The flags a command takes. Each is given once; a repeated flag keeps its last value. */
export type CliOptions = Record<string, { type: 'string' | 'boolean' }>;

/** A command's arguments after strict parsing. */
export interface CliArgs {
  /** By flag name: the text of a string flag, `true` for a boolean flag; absent when not given. */
  values: Readonly<Record<string, string | boolean | undefined>>;
  positionals: readonly string[];
}

interface CliCommandSpec {
  name: string;
  summary: string;
  usage?: string;
  /** Flags the command takes; any other flag is refused before the command runs. Default: none. */
  options?: CliOptions;
  /** How many positional arguments it takes at most. Default: none. */
  maxPositionals?: number;
}

/** One admin command. `name` may have several words ("keys rotate"); the longest match wins. */
export interface CliCommand extends CliCommandSpec {
  /** Returns the process exit code. Writes results to `out`, progress and problems to `err`. */
  run(context: CliContext): Promise<number>;
}

export interface CliContext {
  container: Container;
  args: CliArgs;
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * A command that runs before (and without) the container, for checks that must work when the
 * configuration is invalid or the database unreachable (`doctor`).
 */
export interface StandaloneCliCommand extends CliCommandSpec {
  standalone: true;
  run(context: Omit<CliContext, 'container'>): Promise<number>;
}

/** The arguments a command cannot take; `message` names the offending one. */
export class CliUsageError extends Error {}

/**
 * Strict parsing (node:util parseArgs): an unknown or misspelt flag, a flag without its value, or an
 * argument too many is an error instead of being ignored, so a typo never runs a command with defaults.
 */
export function parseCommandArgs(command: CliCommandSpec, argv: readonly string[]): CliArgs {
  const maxPositionals = command.maxPositionals ?? 0;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: command.options ?? {},
      strict: true,
      allowPositionals: maxPositionals > 0,
    });
  } catch (error) {
    if (isParseArgsError(error)) throw new CliUsageError(error.message);
    throw error;
  }
  const extra = parsed.positionals[maxPositionals];
  if (extra !== undefined) throw new CliUsageError(`Unexpected argument '${extra}'`);
  // No option is declared with `multiple`, so every value is a single string or boolean.
  return { values: parsed.values as CliArgs['values'], positionals: parsed.positionals };
}

function isParseArgsError(error: unknown): error is Error {
  return error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS_');
}

export function usageLine(command: CliCommandSpec): string {
  return `usage: npm run cli -- ${command.usage ?? command.name}`;
}

/** A string flag's text, or undefined when it was not given. */
export function stringFlag(args: CliArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}
