import { DAY, HOUR, MINUTE } from '../../src/shared/clock';
import { startTestApp, type TestApp } from '../support/harness';
import { profileOf, row, seedConnection, storedToken } from '../support/factories';

/** The keeper against the sandbox over HTTP and a real SQLite file; time moves by the test's clock. */
describe('keeper', () => {
  let app: TestApp;

  afterEach(async () => {
    await app.close();
  });

  describe('with validation off (refresh only)', () => {
    beforeEach(async () => {
      app = await startTestApp({ env: { VALIDATE_INTERVAL_HOURS: '0' } });
    });

    it('when a token enters the refresh window, then it is refreshed exactly once', async () => {
      const seeded = await seedConnection(app);
      const keeper = app.container.createKeeper();
      app.clock.advance(49 * DAY);
      expect((await keeper.sweep()).claimed).toBe(0);
      expect(app.sandbox.calls.refresh).toBe(0);

      app.clock.advance(1 * DAY + HOUR);
      const summary = await keeper.sweep();
      expect(summary.byOutcome).toEqual({ ok: 1 });
      expect(app.sandbox.calls.refresh).toBe(1);
      const refreshed = await row(app, seeded.id);
      expect(storedToken(app, refreshed)).not.toBe(storedToken(app, seeded));
      expect(app.sandbox.tokenInfo(storedToken(app, refreshed))?.kind).toBe('long');
      expect(Number(refreshed.token_issued_at)).toBe(app.clock.now());
      expect(Number(refreshed.last_refreshed_at)).toBe(app.clock.now());
      expect(refreshed.last_refresh_outcome).toBe('ok');

      // Sweeping again, even days later, finds nothing until the new token nears its own expiry.
      await keeper.sweep();
      app.clock.advance(5 * DAY);
      await keeper.sweep();
      expect(app.sandbox.calls.refresh).toBe(1);
    });

    it('when a token is younger than 24 hours, then it is never refreshed, even with a huge window', async () => {
      await app.close();
      app = await startTestApp({ env: { VALIDATE_INTERVAL_HOURS: '0', REFRESH_WINDOW_DAYS: '59' } });
      await seedConnection(app);
      const keeper = app.container.createKeeper();
      app.clock.advance(23 * HOUR);
      await keeper.sweep();
      expect(app.sandbox.calls.refresh).toBe(0);
      app.clock.advance(HOUR);
      await keeper.sweep();
      expect(app.sandbox.calls.refresh).toBe(1);
    });

    it('when a token has expired, then it is marked needs_reconnect without any HTTP call', async () => {
      const seeded = await seedConnection(app);
      app.clock.advance(61 * DAY);
      app.sandbox.resetCalls();
      await app.container.createKeeper().sweep();
      const expired = await row(app, seeded.id);
      expect(expired.status).toBe('needs_reconnect');
      expect(expired.status_reason).toBe('expired');
      expect(expired.next_action_at).toBeNull();
      expect(Object.values(app.sandbox.calls).reduce((a, b) => a + b, 0)).toBe(0);
    });

    it('when Instagram fails transiently, then the refresh is retried with growing backoff and then succeeds', async () => {
      const seeded = await seedConnection(app);
      const keeper = app.container.createKeeper();
      app.clock.advance(51 * DAY);
      app.sandbox.script('refresh', { status: 503, body: 'unavailable' });
      await keeper.sweep();
      const first = await row(app, seeded.id);
      expect(first.last_refresh_outcome).toBe('unavailable');
      expect(first.failure_count).toBe(1);
      const wait1 = Number(first.backoff_until) - app.clock.now();
      expect(wait1).toBeGreaterThanOrEqual(30_000);
      expect(wait1).toBeLessThanOrEqual(60_000);

      await keeper.sweep(); // still backing off: no call
      expect(app.sandbox.calls.refresh).toBe(1);

      app.clock.advance(wait1);
      app.sandbox.script('refresh', app.sandbox.graphError(2, undefined, 'Service temporarily unavailable'));
      await keeper.sweep();
      const second = await row(app, seeded.id);
      expect(second.failure_count).toBe(2);
      expect(Number(second.backoff_until) - app.clock.now()).toBeGreaterThanOrEqual(60_000);

      app.clock.advance(2 * MINUTE);
      await keeper.sweep();
      const done = await row(app, seeded.id);
      expect(done.last_refresh_outcome).toBe('ok');
      expect(done.failure_count).toBe(0);
      expect(done.backoff_until).toBeNull();
      expect(app.sandbox.calls.refresh).toBe(3);
    });

    it('when two keepers sweep the same due connections at once, then each token is refreshed exactly once', async () => {
      const seeded = [];
      for (let i = 0; i < 120; i += 1) seeded.push(await seedConnection(app));
      app.clock.advance(51 * DAY);
      app.sandbox.resetCalls();
      const [a, b] = [app.container.createKeeper('keeper-a'), app.container.createKeeper('keeper-b')];
      const [sa, sb] = await Promise.all([a.sweep(), b.sweep()]);
      expect(sa.claimed + sb.claimed).toBe(120);
      expect(sa.claimed).toBeGreaterThan(0);
      expect(sb.claimed).toBeGreaterThan(0);
      expect(app.sandbox.calls.refresh).toBe(120);
      const rows = await app.container.db.selectFrom('connections').selectAll().execute();
      expect(rows.every((r) => r.last_refresh_outcome === 'ok' && r.lease_owner === null)).toBe(true);
      await Promise.all([a.sweep(), b.sweep()]);
      expect(app.sandbox.calls.refresh).toBe(120);
    });

    it('when a keeper dies holding leases, then another takes the work over once the leases lapse', async () => {
      const seeded = await seedConnection(app);
      app.clock.advance(51 * DAY);
      // A keeper that claimed the row and then vanished: the lease is held, nothing was written.
      await app.container.db
        .updateTable('connections')
        .set({ lease_owner: 'dead-keeper', lease_until: app.clock.now() + app.container.config.lifecycle.leaseMs })
        .where('id', '=', seeded.id)
        .execute();
      const survivor = app.container.createKeeper('survivor');
      expect((await survivor.sweep()).claimed).toBe(0);
      app.clock.advance(app.container.config.lifecycle.leaseMs);
      expect((await survivor.sweep()).claimed).toBe(1);
      expect((await row(app, seeded.id)).last_refresh_outcome).toBe('ok');
    });

    it('when the sweep interval is 0, then a started keeper never sweeps', async () => {
      await app.close();
      app = await startTestApp({ env: { VALIDATE_INTERVAL_HOURS: '0', KEEPER_INTERVAL_SECONDS: '0' } });
      await seedConnection(app);
      app.clock.advance(51 * DAY);
      const keeper = app.container.createKeeper();
      keeper.start({ keepAlive: false });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await keeper.stop();
      expect(app.sandbox.calls.refresh).toBe(0);
    });

    it('when a keeper is started, then it sweeps by itself without being asked', async () => {
      await seedConnection(app);
      app.clock.advance(51 * DAY);
      const keeper = app.container.createKeeper();
      keeper.start({ keepAlive: false });
      const deadline = Date.now() + 5000;
      while (app.sandbox.calls.refresh === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await keeper.stop();
      expect(app.sandbox.calls.refresh).toBe(1);
    });

    it('when a keeper is stopped mid-sweep, then it finishes in-flight calls and hands back the rest', async () => {
      for (let i = 0; i < 10; i += 1) await seedConnection(app);
      app.clock.advance(51 * DAY);
      for (let i = 0; i < 10; i += 1) app.sandbox.script('refresh', { delayMs: 100 });
      const keeper = app.container.createKeeper('stopping');
      const sweep = keeper.sweep();
      await new Promise((resolve) => setTimeout(resolve, 30));
      await keeper.stop();
      const summary = await sweep;
      expect(summary.claimed).toBe(10);
      const done = summary.byOutcome.ok ?? 0;
      expect(done).toBeGreaterThan(0);
      expect(done).toBeLessThan(10);
      const rows = await app.container.db.selectFrom('connections').selectAll().execute();
      expect(rows.filter((r) => r.lease_owner !== null)).toHaveLength(0);
      expect(rows.filter((r) => r.last_refresh_outcome === 'ok')).toHaveLength(done);
    });
  });

  describe('with daily validation', () => {
    beforeEach(async () => {
      app = await startTestApp();
    });

    it('when the token was revoked on Instagram, then validation marks the connection needs_reconnect', async () => {
      const seeded = await seedConnection(app);
      app.sandbox.revokeTokens(app.sandbox.tokenInfo(storedToken(app, seeded))?.igUserId ?? '');
      app.clock.advance(DAY + 6 * HOUR);
      await app.container.createKeeper().sweep();
      const revoked = await row(app, seeded.id);
      expect(app.sandbox.calls.me).toBe(1);
      expect(revoked.status).toBe('needs_reconnect');
      expect(revoked.status_reason).toBe('revoked');
      expect(revoked.last_validation_outcome).toBe('token_invalid');
      expect(revoked.next_action_at).toBeNull();
    });

    it('when validation succeeds, then profile changes are picked up', async () => {
      const seeded = await seedConnection(app);
      const account = app.sandbox.tokenInfo(storedToken(app, seeded))?.igUserId ?? '';
      app.sandbox.updateProfile(account, { username: 'brand.new.name' });
      app.clock.advance(DAY + 6 * HOUR);
      await app.container.createKeeper().sweep();
      const validated = await row(app, seeded.id);
      expect(profileOf(validated).username).toBe('brand.new.name');
      expect(validated.last_validation_outcome).toBe('ok');
      expect(Number(validated.last_validated_at)).toBe(app.clock.now());
    });

    it('when Instagram throttles with usage headers, then the keeper waits the estimated time to regain access', async () => {
      const seeded = await seedConnection(app);
      app.clock.advance(DAY + 6 * HOUR);
      app.sandbox.script('me', {
        ...app.sandbox.graphError(4, undefined, 'Application request limit reached'),
        headers: {
          'X-Business-Use-Case-Usage': JSON.stringify({
            '17841405793187219': [{ type: 'instagram', call_count: 100, estimated_time_to_regain_access: 30 }],
          }),
        },
      });
      const keeper = app.container.createKeeper();
      await keeper.sweep();
      const throttled = await row(app, seeded.id);
      expect(throttled.last_validation_outcome).toBe('throttled');
      expect(Number(throttled.backoff_until)).toBe(app.clock.now() + 30 * MINUTE);

      app.clock.advance(29 * MINUTE);
      await keeper.sweep();
      expect(app.sandbox.calls.me).toBe(1);
      app.clock.advance(MINUTE);
      await keeper.sweep();
      expect(app.sandbox.calls.me).toBe(2);
      expect((await row(app, seeded.id)).last_validation_outcome).toBe('ok');
    });

    it('when a permission was removed, then the connection stays active and the outcome says so', async () => {
      const seeded = await seedConnection(app);
      app.clock.advance(DAY + 6 * HOUR);
      app.sandbox.script(
        'me',
        app.sandbox.graphError(10, undefined, 'Application does not have permission for this action'),
      );
      await app.container.createKeeper().sweep();
      const checked = await row(app, seeded.id);
      expect(checked.status).toBe('active');
      expect(checked.last_validation_outcome).toBe('permission_missing');
      expect(checked.last_error).toContain('does not have permission');
    });

    it('when a stored token cannot be decrypted, then the row is reported, kept, and nothing crashes', async () => {
      const seeded = await seedConnection(app);
      await app.container.db
        .updateTable('connections')
        .set({ token_key_id: 'retired-key' })
        .where('id', '=', seeded.id)
        .execute();
      app.clock.advance(DAY + 6 * HOUR);
      const summary = await app.container.createKeeper().sweep();
      expect(summary.byOutcome).toEqual({ token_unreadable: 1 });
      const unreadable = await row(app, seeded.id);
      expect(unreadable.last_validation_outcome).toBe('token_unreadable');
      expect(unreadable.last_error).toContain('retired-key');
      expect(app.sandbox.calls.me).toBe(0);
    });
  });
});
