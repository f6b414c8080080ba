import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Outside production, a missing SESSION_SECRET or TOKEN_ENCRYPTION_KEYS is generated once and kept in
 * a file under data/ (mode 0600), so `npm start` needs no set-up and restarts keep sessions and tokens.
 * Production never comes here: there, missing secrets stop the start with a message.
 */
export const DEV_SECRETS_FILE = 'data/dev-secrets.json';

interface DevSecrets {
  SESSION_SECRET: string;
  TOKEN_ENCRYPTION_KEYS: string;
}

export function withDevSecrets(
  env: NodeJS.ProcessEnv,
  file = DEV_SECRETS_FILE,
): { env: NodeJS.ProcessEnv; generated: boolean } {
  if (env.NODE_ENV === 'production' || (env.SESSION_SECRET && env.TOKEN_ENCRYPTION_KEYS))
    return { env, generated: false };
  let secrets: DevSecrets;
  let generated = false;
  if (existsSync(file)) {
    secrets = JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  } else {
    secrets = {
      SESSION_SECRET: randomBytes(48).toString('base64url'),
      TOKEN_ENCRYPTION_KEYS: `dev1:${randomBytes(32).toString('base64')}`,
    };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    generated = true;
  }
  return {
    env: {
      ...env,
      SESSION_SECRET: env.SESSION_SECRET ?? secrets.SESSION_SECRET,
      TOKEN_ENCRYPTION_KEYS: env.TOKEN_ENCRYPTION_KEYS ?? secrets.TOKEN_ENCRYPTION_KEYS,
    },
    generated,
  };
}
