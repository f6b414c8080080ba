import { DAY } from '../../src/shared/clock';
import { startTestApp, type TestApp } from '../support/harness';
import { csrfFrom, formAction } from '../support/pages';
import { PROVIDERS } from '../support/providers';

/**
 * A connection belongs to the igconnect user who made it, never to whoever connects the same Instagram
 * account later: two people who share one business login each see and control only their own connection.
 */
describe.each(PROVIDERS)('two browsers connect the same account (%s)', (_name, p) => {
  let app: TestApp;
  const [odd] = p.accounts;

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterEach(async () => {
    await app.close();
  });

  async function bothConnected() {
    const alice = app.agent();
    const bob = app.agent();
    await p.connect(alice, { account: odd });
    await p.connect(bob, { account: odd });
    const alicePage = await alice.get('/account');
    const bobPage = await bob.get('/account');
    const aliceDisconnect = formAction(alicePage.text, 'disconnect');
    const bobDisconnect = formAction(bobPage.text, 'disconnect');
    return { alice, bob, alicePage, bobPage, aliceDisconnect, bobDisconnect };
  }

  const ids = async () =>
    (await app.container.db.selectFrom('connections').select('id').orderBy('id').execute()).map((r) => r.id);

  it('when both have connected, then there are two connections and each page shows only its own', async () => {
    const { alicePage, bobPage, aliceDisconnect, bobDisconnect } = await bothConnected();
    expect(await ids()).toHaveLength(2);
    expect(aliceDisconnect).not.toBe(bobDisconnect);
    expect(alicePage.text).not.toContain(bobDisconnect);
    expect(bobPage.text).not.toContain(aliceDisconnect);
    expect(alicePage.text.match(/data-instagram-user-id=/g)).toHaveLength(1);
    expect(bobPage.text.match(/data-instagram-user-id=/g)).toHaveLength(1);
  });

  it.each(['disconnect', 'validate', 'refresh'] as const)(
    "when one posts %s for the other's connection, then it is not found and the other's connection is untouched",
    async (kind) => {
      const { bob, bobPage, aliceDisconnect } = await bothConnected();
      app.clock.advance(2 * DAY);
      const before = await app.container.db.selectFrom('connections').selectAll().orderBy('id').execute();
      const renewalsBefore = p.renewals(app);
      const target = aliceDisconnect.replace(/disconnect$/, kind);
      const response = await bob
        .post(target)
        .type('form')
        .send({ _csrf: csrfFrom(bobPage.text) });
      expect(response.status).toBe(404);
      expect(await app.container.db.selectFrom('connections').selectAll().orderBy('id').execute()).toEqual(before);
      expect(p.renewals(app) - renewalsBefore).toBe(0);
    },
  );

  it("when one disconnects their own, then the other's connection stays", async () => {
    const { bob, bobPage, bobDisconnect, alice } = await bothConnected();
    const response = await bob
      .post(bobDisconnect)
      .type('form')
      .send({ _csrf: csrfFrom(bobPage.text) });
    expect(response.status).toBe(303);
    expect(await ids()).toHaveLength(1);
    expect((await alice.get('/account')).text).toContain(`data-instagram-user-id="${odd.igUserId}"`);
    expect((await bob.get('/account')).text).not.toContain(`data-instagram-user-id="${odd.igUserId}"`);
  });
});
