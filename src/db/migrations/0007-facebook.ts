import type { Kysely, Migration } from 'kysely';

/**
 * For the second way in (Facebook Login for Business):
 * - when a person's grant of data access lapses whatever the token's own expiry (90 days since the person
 *   last used the app): the keeper marks the connection then, and the status page warns before; null for
 *   providers without such a limit;
 * - authorizations waiting for the person to choose among several accounts: their tokens sealed like a
 *   connection's, bound to the browser session, single use, short-lived.
 */
export const facebook: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema.alterTable('connections').addColumn('access_expires_at', 'bigint').execute();
    await db.schema
      .createTable('pending_choices')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('session_id', 'text', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('pending_choices_expires_at_idx').on('pending_choices').column('expires_at').execute();
  },
};
