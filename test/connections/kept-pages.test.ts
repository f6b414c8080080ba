import type { Express } from 'express';
import { DAY } from '../../src/shared/clock';
import { connect, startTestApp, type TestApp } from '../support/harness';
import { csrfFrom } from '../support/pages';

/**
 * With the view cache on (production), the status page last rendered for a user is sent again while its
 * input is unchanged (src/connections/rendered-pages.ts). These prove that nothing it shows goes stale and
 * that nothing crosses from one person to another.
 */
describe('the status page kept between identical views', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
    // As NODE_ENV=production sets it; the test app runs in test mode.
    (app.server.listeners('request')[0] as Express).enable('view cache');
  });
  afterEach(async () => {
    await app.close();
  });

  it('when the connection changes in the database behind the app, then the next view shows the change', async () => {
    const browser = app.agent();
    await connect(browser);
    await browser.get('/account'); // shows and clears the "connected" flash
    const first = await browser.get('/account');
    expect(first.text).toContain('data-status="active"');
    expect((await browser.get('/account')).text).toBe(first.text);

    // As another instance or the keeper would: straight in the shared database.
    await app.container.db
      .updateTable('connections')
      .set({ status: 'needs_reconnect', status_reason: 'revoked' })
      .execute();

    const second = await browser.get('/account');
    expect(second.text).toContain('data-status="needs_reconnect"');
    expect(second.text).not.toContain('data-status="active"');
  });

  it('when time passes, then the times in words follow', async () => {
    const browser = app.agent();
    await connect(browser);
    const first = await browser.get('/account');
    app.clock.advance(3 * DAY);
    const later = await browser.get('/account');
    expect(later.text).not.toBe(first.text);
    expect(later.text).toContain('3 days ago');
  });

  it('when two people view their pages in turn, then each gets only their own accounts and form token', async () => {
    const alice = app.agent();
    const bob = app.agent();
    const [one, two] = app.sandbox.accounts();
    await connect(alice, { account: one?.igUserId });
    await connect(bob, { account: two?.igUserId });
    await alice.get('/account'); // each shows and clears its "connected" flash
    await bob.get('/account');
    const alicePage = await alice.get('/account');
    const bobPage = await bob.get('/account');
    const aliceAgain = await alice.get('/account');

    expect(aliceAgain.text).toBe(alicePage.text);
    expect(csrfFrom(bobPage.text)).not.toBe(csrfFrom(alicePage.text));
    expect(bobPage.text).toContain(`data-instagram-user-id="${two?.igUserId}"`);
    expect(bobPage.text).not.toContain(`data-instagram-user-id="${one?.igUserId}"`);
    expect(aliceAgain.text).not.toContain(`data-instagram-user-id="${two?.igUserId}"`);
  });
});
