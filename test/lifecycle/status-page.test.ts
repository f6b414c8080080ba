import { DAY } from '../../src/shared/clock';
import { connect, ODD_ACCOUNT, startTestApp, type TestApp, type Agent } from '../support/harness';
import { csrfFrom, formAction } from '../support/pages';

async function press(agent: Agent, kind: 'validate' | 'refresh' | 'disconnect') {
  const page = await agent.get('/account');
  const response = await agent
    .post(formAction(page.text, kind))
    .type('form')
    .send({ _csrf: csrfFrom(page.text) });
  expect(response.status).toBe(303);
  return agent.get('/account');
}

describe('status page lifecycle', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('when an account was just connected, then the page says when it will be checked and renewed next', async () => {
    const agent = app.agent();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    const page = await agent.get('/account');
    expect(page.text).toContain('data-next-action="validate"');
    expect(page.text).toContain('igconnect checks the connection with Instagram');
    expect(page.text).toContain('Token issued');
    expect(page.text).toContain('Validate now');
    expect(page.text).toContain('Refresh now');
  });

  it('when a revoked token is validated now, then the page shows Reconnect, and reconnecting restores the same connection', async () => {
    const agent = app.agent();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    const before = await app.container.db.selectFrom('connections').selectAll().executeTakeFirstOrThrow();
    app.sandbox.revokeTokens(ODD_ACCOUNT.igUserId);

    const page = await press(agent, 'validate');
    expect(page.text).toContain('data-status="needs_reconnect"');
    expect(page.text).toContain('The access was revoked on Instagram.');
    expect(page.text).toMatch(/href="\/auth\/instagram"[^>]*>Reconnect @/);
    expect(page.text).toContain('href="/auth/instagram?switch=1"');
    expect(page.text).toContain('data-next-action="none"');
    expect(page.text).not.toContain('Refresh now');

    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    const after = await app.container.db.selectFrom('connections').selectAll().execute();
    expect(after).toHaveLength(1);
    expect(after[0]?.id).toBe(before.id);
    expect(after[0]?.status).toBe('active');
    expect((await agent.get('/account')).text).toContain('data-status="active"');
  });

  it('when Refresh now is pressed on a token younger than 24 hours, then nothing is sent and the page explains why', async () => {
    const agent = app.agent();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    const page = await press(agent, 'refresh');
    expect(app.sandbox.calls.refresh).toBe(0);
    expect(page.text).toContain('at least 24 hours old');
  });

  it('when Refresh now is pressed on an older token, then the token is renewed at once', async () => {
    const agent = app.agent();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    app.clock.advance(2 * DAY);
    const page = await press(agent, 'refresh');
    expect(app.sandbox.calls.refresh).toBe(1);
    expect(page.text).toContain('Refresh done');
    expect(page.text).toContain('data-last-refresh="ok"');
  });

  it('when Validate now is posted without the form token, then it is refused', async () => {
    const agent = app.agent();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    const page = await agent.get('/account');
    const response = await agent.post(formAction(page.text, 'validate')).type('form').send({});
    expect(response.status).toBe(403);
    expect(app.sandbox.calls.me).toBe(1); // only the connect flow's /me
  });

  it("when someone presses Validate now on another user's connection, then it is not found", async () => {
    const owner = app.agent();
    await connect(owner, { account: ODD_ACCOUNT.igUserId });
    const ownerPage = await owner.get('/account');
    const other = app.agent();
    const [, second] = app.sandbox.accounts().filter((a) => a.tester);
    await connect(other, { account: second?.igUserId });
    const otherPage = await other.get('/account');
    const response = await other
      .post(formAction(ownerPage.text, 'validate'))
      .type('form')
      .send({ _csrf: csrfFrom(otherPage.text) });
    expect(response.status).toBe(404);
  });
});
