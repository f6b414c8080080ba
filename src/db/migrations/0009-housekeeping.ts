import type { Kysely, Migration } from 'kysely';

/**
 * Jobs that one instance of the deployment runs per interval (the retention job first): one row per job,
 * claimed with a conditional UPDATE on `ran_at`, so that any number of keepers sharing the database run it
 * once per interval; `report` keeps what the last run did, as JSON, for the operator.
 */
export const housekeeping: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('housekeeping')
      .addColumn('job', 'text', (c) => c.primaryKey())
      .addColumn('ran_at', 'bigint')
      .addColumn('report', 'text')
      .execute();
  },
};
