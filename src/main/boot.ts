import { existsSync } from 'node:fs';
import { type Config, ConfigError, inspectConfig, loadConfig } from '../config/config';
import { withDevSecrets } from './dev-secrets';

/**
 * What every entry point (web, worker, cli) does first: read `.env` if present, fill development
 * secrets, and validate the configuration once.
 */
export function loadRuntimeConfig(): { config: Config; generatedSecrets: boolean } {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const { env, generated } = withDevSecrets(process.env);
  return { config: loadConfig(env), generatedSecrets: generated };
}

/** The same, without throwing: every problem of a configuration that cannot start (for `doctor`). */
export function inspectRuntimeConfig(): ReturnType<typeof inspectConfig> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  return inspectConfig(withDevSecrets(process.env).env);
}

/** Prints a start-up failure without a stack trace and exits non-zero. */
export function exitOnStartupError(program: string, error: unknown): never {
  // The app's ConfigError, or the standalone sandbox's own: both list every problem in their message.
  if (error instanceof ConfigError || (error instanceof Error && error.name === 'ConfigError')) {
    process.stderr.write(`${program} cannot start.\n${error.message}\n`);
  } else {
    process.stderr.write(`${program} failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
}
