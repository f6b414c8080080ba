import type { Container } from '../main/container';

/** One admin command. `name` may have several words ("keys rotate"); the longest match wins. */
export interface CliCommand {
  name: string;
  summary: string;
  usage?: string;
  /** Returns the process exit code. Writes results to `out`, progress and problems to `err`. */
  run(context: CliContext): Promise<number>;
}

export interface CliContext {
  container: Container;
  args: string[];
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * A command that runs before (and without) the container, for checks that must work when the
 * configuration is invalid or the database unreachable (`doctor`).
 */
export interface StandaloneCliCommand {
  name: string;
  summary: string;
  usage?: string;
  standalone: true;
  run(context: Omit<CliContext, 'container'>): Promise<number>;
}
