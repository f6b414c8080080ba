import { createDb } from '../db/create-db';
import { inspectRuntimeConfig } from '../main/boot';
import { configProblemFindings, databaseFindings, deploymentFindings, formatFindings } from '../main/doctor';
import { providerFindings } from '../main/provider-doctor';
import { TokenCipher } from '../shared/token-cipher';
import type { StandaloneCliCommand } from './cli-command';

/**
 * Checks a deployment against the pitfalls people hit most and prints each finding with its fix.
 * Runs without the usual container, because it must also explain a configuration that cannot start.
 * Exit code 1 when any finding is an error.
 */
export const doctorCommand: StandaloneCliCommand = {
  name: 'doctor',
  summary: 'check the configuration and database of this deployment; print each problem with its fix',
  usage: 'doctor [--probe]',
  options: { probe: { type: 'boolean' } },
  standalone: true,
  async run({ out, args }) {
    const probe = args.values.probe === true;
    const { config, problems } = inspectRuntimeConfig();
    const findings = configProblemFindings(problems);
    if (config) {
      findings.push(...deploymentFindings(config));
      let db;
      try {
        db = createDb(config.database);
        findings.push(...(await databaseFindings(db, new TokenCipher(config.encryptionKeys), { verifyTokens: true })));
        findings.push(...(await providerFindings(config, db, { now: Date.now(), probe })));
      } catch (error) {
        findings.push({
          check: 'database',
          level: 'error',
          message: `the database cannot be opened: ${error instanceof Error ? error.message : String(error)}`,
          fix: 'Check DATABASE_URL and that the database is reachable.',
        });
      } finally {
        await db?.destroy();
      }
    } else {
      out.write('The configuration has errors; fix them and run doctor again for the deployment checks.\n\n');
    }
    out.write(formatFindings(findings));
    return findings.some((f) => f.level === 'error') ? 1 : 0;
  },
};
