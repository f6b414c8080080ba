import { IDLE_TIMEOUT_MS } from '../../src/http/session';
import { TOUCH_SLACK_MS } from '../../src/http/session-store';
import { MINUTE } from '../../src/shared/clock';
import { connect, startTestApp, type TestApp } from '../support/harness';

/** The session row's expiry, read straight from the database. */
async function storedExpiries(app: TestApp): Promise<number[]> {
  const rows = await app.container.db.selectFrom('sessions').select('expires_at').execute();
  return rows.map((row) => Number(row.expires_at));
}

describe('session store', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('when a signed-in person views pages again soon, then the session row is not rewritten each time', async () => {
    const agent = app.agent();
    await connect(agent);
    await agent.get('/account');
    const [before] = await storedExpiries(app);

    expect((await agent.get('/account')).status).toBe(200);
    expect(await storedExpiries(app)).toEqual([before]);
  });

  it('when the stored expiry is older than the slack, then a page view moves it forward', async () => {
    const agent = app.agent();
    await connect(agent);
    await agent.get('/account');
    // express-session dates cookies by the real clock: age the row instead of moving time.
    const [current] = await storedExpiries(app);
    const aged = (current as number) - TOUCH_SLACK_MS - MINUTE;
    await app.container.db.updateTable('sessions').set({ expires_at: aged }).execute();

    expect((await agent.get('/account')).status).toBe(200);
    const [after] = await storedExpiries(app);
    expect(after).toBeGreaterThanOrEqual(current as number);
    expect((after as number) - Date.now()).toBeLessThanOrEqual(IDLE_TIMEOUT_MS);
  });
});
