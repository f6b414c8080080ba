import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ENTRY = join(__dirname, '../../dist/src/main/web.js');

/** The doctor's checks run at every start: findings become warnings in the log, the app still starts. */
describe('start-up doctor', () => {
  let output = '';

  // One start serves every case: the app starts with a guessable secret and TRUST_PROXY off behind https.
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'igconnect-start-'));
    const child = spawn(process.execPath, [ENTRY], {
      cwd: join(__dirname, '../..'),
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'development',
        PORT: '0',
        PUBLIC_URL: 'https://connect.example.com',
        DATABASE_URL: `sqlite:${join(dir, 'igconnect.db')}`,
        SESSION_SECRET: 'x'.repeat(40),
        TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        INSTAGRAM_AUTHORIZE_URL: 'http://127.0.0.1:9/oauth/authorize',
      },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${output}`)), 15000);
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('igconnect listening')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', () => reject(new Error(`exited early: ${output}`)));
      });
    } finally {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const doctorLines = () => output.split('\n').filter((line) => line.includes('doctor:'));

  it('when the app starts with a guessable secret and TRUST_PROXY off behind https, then it logs both as warnings', () => {
    const warnings = doctorLines().filter((line) => line.includes('"level":40'));
    expect(warnings.some((line) => line.includes('SESSION_SECRET looks guessable'))).toBe(true);
    expect(warnings.some((line) => line.includes('TRUST_PROXY is off'))).toBe(true);
    expect(output).not.toContain('x'.repeat(40));
  });

  it('when a finding is logged, then its line carries one level (pino’s) and the finding’s own as severity', () => {
    const lines = doctorLines();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      // JSON.parse keeps the last of two equal keys, and so do log shippers: count them in the raw text.
      expect(line.match(/"level":/g)).toHaveLength(1);
      const entry = JSON.parse(line) as { level: unknown; severity: unknown; check: unknown };
      expect(entry.level).toBe(40);
      expect(['error', 'warn']).toContain(entry.severity);
      expect(typeof entry.check).toBe('string');
    }
    const secret = lines.map((line) => JSON.parse(line) as { severity: string; msg: string });
    expect(secret.find((e) => e.msg.includes('SESSION_SECRET looks guessable'))?.severity).toBe('error');
    expect(secret.find((e) => e.msg.includes('TRUST_PROXY is off'))?.severity).toBe('warn');
  });
});
