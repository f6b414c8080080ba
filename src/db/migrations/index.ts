import type { Migration } from 'kysely';
import { initial } from './0001-initial';
import { lifecycle } from './0002-lifecycle';
import { rateLimits } from './0003-rate-limits';
import { genericAccounts } from './0004-generic-accounts';
import { api } from './0005-api';
import { connectLinks } from './0006-connect-links';
import { facebook } from './0007-facebook';
import { providerHealth } from './0008-provider-health';

/**
 * Every migration, in order. Migrations live in code (no file-system scanning) so they ship inside the
 * build and run the same on SQLite and PostgreSQL: only portable column types (text, integer, bigint).
 * Add one file per migration and list it here; never edit a migration that has shipped.
 */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_lifecycle': lifecycle,
  '0003_rate_limits': rateLimits,
  '0004_generic_accounts': genericAccounts,
  '0005_api': api,
  '0006_connect_links': connectLinks,
  '0007_facebook': facebook,
  '0008_provider_health': providerHealth,
};
