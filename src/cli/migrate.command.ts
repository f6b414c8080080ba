import type { CliCommand } from './cli-command';

/** Migrations also run at every start; this runs them alone (e.g. before a rolling deploy). */
export const migrateCommand: CliCommand = {
  name: 'migrate',
  summary: 'apply database migrations and exit',
  async run({ out }) {
    // createContainer has already migrated to the latest version.
    out.write('database is at the latest migration\n');
    return 0;
  },
};
