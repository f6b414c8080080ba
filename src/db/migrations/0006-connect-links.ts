import type { Kysely, Migration } from 'kysely';

/**
 * A flow opened through a connect link carries that link on its transaction, so the callback knows
 * exactly which link (and so which end user) it finishes; home-page flows leave it null.
 */
export const connectLinks: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema.alterTable('oauth_transactions').addColumn('connect_session_id', 'text').execute();
  },
};
