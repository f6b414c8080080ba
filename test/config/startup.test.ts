import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ENTRY = join(__dirname, '../../dist/src/main/web.js');

/** The real entry point, as `npm start` runs it (built by `pretest`). */
describe('start-up', () => {
  beforeAll(() => {
    if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run npm run build (npm test does it)`);
  });

  it('when production starts without configuration, then it exits non-zero and lists every problem', () => {
    const result = spawnSync(process.execPath, [ENTRY], {
      env: { PATH: process.env.PATH, NODE_ENV: 'production' },
      cwd: join(__dirname, '../..'),
      encoding: 'utf8',
      timeout: 15000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('igconnect cannot start.');
    expect(result.stderr).toContain('INSTAGRAM_APP_ID is missing');
    expect(result.stderr).toContain('SESSION_SECRET is missing');
    expect(result.stderr).toContain('TOKEN_ENCRYPTION_KEYS is missing');
    expect(result.stderr).toContain('PUBLIC_URL must use https');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
