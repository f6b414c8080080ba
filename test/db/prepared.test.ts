import type { Kysely } from 'kysely';
import { prepare } from '../../src/db/prepared';
import type { Database } from '../../src/db/schema';
import { startTestApp, type TestApp } from '../support/harness';

/** Queries compiled once and run with new values (src/db/prepared.ts), on the test's database engine. */
describe('db: prepared queries', () => {
  let app: TestApp;
  let db: Kysely<Database>;

  const key = (id: string, name: string, revoked: number | null = null) =>
    db
      .insertInto('api_keys')
      .values({ id, name, key_hash: `hash-${id}`, created_at: 1, revoked_at: revoked })
      .execute();
  const activeNamed = prepare((d: Kysely<Database>, v: { name: string; createdAfter: number }) =>
    d
      .selectFrom('api_keys')
      .select(['id'])
      .where('name', '=', v.name)
      .where('created_at', '>', v.createdAfter)
      .where('revoked_at', 'is', null)
      .orderBy('id'),
  );

  beforeEach(async () => {
    app = await startTestApp();
    db = app.container.db;
  });
  afterEach(async () => {
    await app.close();
  });

  it('when it runs again with other values, then each run answers for its own values', async () => {
    await key('k1', 'alpha');
    await key('k2', 'beta');
    await key('k3', 'alpha', 5);
    expect(await activeNamed(db, { name: 'alpha', createdAfter: 0 })).toEqual([{ id: 'k1' }]);
    expect(await activeNamed(db, { name: 'beta', createdAfter: 0 })).toEqual([{ id: 'k2' }]);
    expect(await activeNamed(db, { name: 'alpha', createdAfter: 1 })).toEqual([]);
    expect(await activeNamed(db, { name: 'gamma', createdAfter: 0 })).toEqual([]);
  });

  it('when it runs inside a transaction, then it sees the transaction’s own writes', async () => {
    const seen = await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('api_keys')
        .values({ id: 'k9', name: 'delta', key_hash: 'hash-k9', created_at: 1, revoked_at: null })
        .execute();
      return activeNamed(trx, { name: 'delta', createdAfter: 0 });
    });
    expect(seen).toEqual([{ id: 'k9' }]);
  });

  it('when a value never reaches the SQL as a parameter, then the first run refuses it', async () => {
    const careless = prepare((d: Kysely<Database>, _v: { name: string }) => d.selectFrom('api_keys').select('id'));
    await expect(careless(db, { name: 'alpha' })).rejects.toThrow('the value "name" is not a parameter');
  });
});
