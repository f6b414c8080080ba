import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');

/** The built CLI as `npm run cli` runs it (npm test builds first), with exactly the given environment. */
export function runBuiltCli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 20000,
    env: { PATH: process.env.PATH, NODE_ENV: 'test', ...env },
  });
}
