import { DAY } from '../../src/shared/clock';
import { runCli } from '../support/cli';
import { profileOf, seedConnection } from '../support/factories';
import { startTestApp, type TestApp } from '../support/harness';

/** The lifecycle commands of the built CLI against a running app's database and sandbox. */
describe('lifecycle cli commands', () => {
  let app: TestApp;
  const cli = (args: string[]) => runCli(args, { ...app.env, LOG_LEVEL: 'silent' });

  beforeEach(async () => {
    app = await startTestApp({ start: Date.now() });
  });
  afterEach(async () => {
    await app.close();
  });

  it('when connections are listed, then each shows its state, expiry and next action', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    const result = await cli(['connections', 'list']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`@${profileOf(seeded).username}`);
    expect(result.stdout).toContain(seeded.account_id);
    expect(result.stdout).toContain('active');
    expect(result.stdout).toContain('1 connection(s), 0 need reconnecting');
  });

  it('when all connections are refreshed, then each is renewed once, with progress and a summary', async () => {
    for (let i = 0; i < 3; i += 1) await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    const result = await cli(['refresh', '--all']);
    expect(result.stderr).toContain('refresh: 3/3 (100%)');
    expect(result.stdout).toContain('refresh summary (3 connection(s)): ok: 3');
    expect(result.status).toBe(0);
    expect(app.sandbox.calls.refresh).toBe(3);
  });

  it('when one connection is validated by @username, then its outcome is printed', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    const result = await cli(['validate', `@${profileOf(seeded).username}`]);
    expect(result.stdout).toContain(`@${profileOf(seeded).username}: ok`);
    expect(result.status).toBe(0);
    expect(app.sandbox.calls.me).toBe(1);
  });

  it('when a validation finds a revoked token, then the summary says so and the exit code is 1', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    app.sandbox.revokeTokens(app.sandbox.accounts()[0]?.igUserId ?? '');
    const result = await cli(['validate', seeded.id]);
    expect(result.stdout).toContain('token_invalid: 1');
    expect(result.status).toBe(1);
  });

  it('when nothing matches, then it says so and exits 1', async () => {
    const result = await cli(['refresh', '@nobody']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no active connection matches');
  });

  it('when the schedule is shown, then the soonest planned action comes first, showing what will run', async () => {
    await seedConnection(app, { issuedAt: app.clock.now() - 55 * DAY });
    await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    const result = await cli(['schedule']);
    expect(result.status).toBe(0);
    const lines = result.stdout.split('\n').filter((l) => /refresh|validate/.test(l) && l.includes('@'));
    expect(lines[0]).toContain('refresh');
    expect(result.stdout).toMatch(/2 connection\(s\): 2 due now, 0 need reconnecting/);
  });
});
