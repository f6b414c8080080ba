import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli';

const BASE_ENV = {
  NODE_ENV: 'test',
  SESSION_SECRET: 'cli-test-session-secret-0123456789abcdef',
  TOKEN_ENCRYPTION_KEYS: `c1:${randomBytes(32).toString('base64')}`,
};
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { ...BASE_ENV, ...env });

describe('cli', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'igconnect-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('when run without a command, then it lists the commands and exits 0', async () => {
    const result = await cli([]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('usage: npm run cli -- <command>');
    expect(result.stdout).toContain('migrate');
  });

  it('when given an unknown command, then it prints the usage to stderr and exits 2', async () => {
    const result = await cli(['frobnicate']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('commands:');
  });

  it('when migrate runs on a new database file, then it creates the schema and exits 0', async () => {
    const result = await cli(['migrate'], { DATABASE_URL: `sqlite:${join(dir, 'cli.db')}` });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('latest migration');
  });

  it.each([
    [['migrate', '--force'], "migrate: Unknown option '--force'", 'usage: npm run cli -- migrate'],
    [['connections', 'list', '--jsn'], "Unknown option '--jsn'", 'usage: npm run cli -- connections list [--json]'],
    [
      ['schedule', '--limit'],
      "Option '--limit <value>' argument missing",
      'usage: npm run cli -- schedule [--limit N]',
    ],
    [['doctor', '--fix'], "doctor: Unknown option '--fix'", 'usage: npm run cli -- doctor'],
    [
      ['refresh', '@one', '@two'],
      "refresh: Unexpected argument '@two'",
      'usage: npm run cli -- refresh <connection id',
    ],
  ])(
    'when %j is given, then it names the argument, prints the usage, exits 2 and opens no database',
    async (args, problem, usage) => {
      const database = join(dir, 'never.db');
      const result = await cli(args, { DATABASE_URL: `sqlite:${database}` });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(problem);
      expect(result.stderr).toContain(usage);
      expect(result.stdout).toBe('');
      expect(existsSync(database)).toBe(false);
    },
  );

  it('when the configuration is invalid, then it names the problem without a stack trace', async () => {
    const result = await cli(['migrate'], { DATABASE_URL: 'mysql://nope' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL must be');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
