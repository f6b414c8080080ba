import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The folder holding package.json: views/ and public/ live there, whether we run from src/ or dist/src/. */
function findProjectRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findProjectRoot(__dirname);
