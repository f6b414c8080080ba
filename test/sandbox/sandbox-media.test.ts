import { BASIC, ODD, type RunningSandbox, startSandbox } from './sandbox-support';

/** The sandbox's generic Graph endpoints: media, containers, and Graph's refusals, as Graph answers them. */
describe('sandbox Graph: media', () => {
  let sandbox: RunningSandbox;
  const PUBLISH = 'instagram_business_content_publish';

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => sandbox.control.reset());

  const call = async (path: string, token: string, init: RequestInit = {}) => {
    const response = await fetch(`${sandbox.base}/graph/v25.0/${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('when media are listed, then pages follow cursors and next carries the token in its query, like Graph', async () => {
    const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
    const first = await call('me/media?fields=id,caption,media_type&limit=50', token);
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(50);
    expect(first.body.data[0]).toEqual({
      id: expect.stringMatching(/^\d{17}$/),
      caption: expect.any(String),
      media_type: 'IMAGE',
    });
    const next = new URL(first.body.paging.next);
    expect(next.pathname).toBe(`/sandbox/graph/v25.0/${ODD.igUserId}/media`);
    expect(next.searchParams.get('access_token')).toBe(token);
    const second = await call(`${ODD.igUserId}/media${next.search}`, token);
    expect(second.body.data).toHaveLength(87 - 50);
    expect(second.body.paging.next).toBeUndefined();
    const ids = new Set([...first.body.data, ...second.body.data].map((m: { id: string }) => m.id));
    expect(ids.size).toBe(87);
    for (const id of ids) expect(BigInt(id) % 2n).toBe(1n);
  });

  it('when a field is unknown, another account is named, or the token is bad, then Graph refuses', async () => {
    const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
    expect((await call('me/media?fields=likes', token)).body.error.code).toBe(100);
    expect((await call('17841401234567893/media', token)).body.error).toMatchObject({ code: 100, error_subcode: 33 });
    sandbox.control.revokeTokens(ODD.igUserId);
    expect((await call('me/media', token)).body.error).toMatchObject({ code: 190, error_subcode: 467 });
  });

  it('when a container is created, then it needs the publish permission and an image_url, from a form or JSON', async () => {
    const basic = sandbox.control.issueLongLivedToken(ODD.igUserId, { scopes: [BASIC] });
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const denied = await call('me/media', basic, { method: 'POST', headers: form, body: 'image_url=https://a/b.jpg' });
    expect([denied.status, denied.body.error.code]).toEqual([400, 10]);

    const publisher = sandbox.control.issueLongLivedToken(ODD.igUserId, { scopes: [BASIC, PUBLISH] });
    const missing = await call('me/media', publisher, { method: 'POST', headers: form, body: 'caption=x' });
    expect(missing.body.error.message).toMatch(/image_url is required/);
    const created = await call('me/media', publisher, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image_url: 'https://a/b.jpg', caption: 'hello' }),
    });
    expect(created.status).toBe(200);
    const read = await call(`${created.body.id}?fields=id,status_code,caption`, publisher);
    expect(read.body).toEqual({ id: created.body.id, status_code: 'FINISHED', caption: 'hello' });
    const deleted = await call(created.body.id, publisher, { method: 'DELETE' });
    expect(deleted.body.error).toMatchObject({ code: 100, error_subcode: 33, type: 'GraphMethodException' });
    expect(deleted.body.error.message).toMatch(/^Unsupported delete request/);
  });
});
