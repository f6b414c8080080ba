import type { Kysely } from 'kysely';
import type { Config } from '../config/config';
import type { Database } from '../db/schema';
import { type CanaryFinding, parseReport, probeEndpoints, versionFinding } from '../incidents/canary';
import { readStates } from '../incidents/watch.repository';
import { createFacebookProvider } from '../providers/facebook';
import { createInstagramProvider } from '../providers/instagram';
import type { ProviderDefinition } from '../providers/provider-definition';
import { createHttpClient } from '../shared/http-client';
import { createLogger } from '../shared/logger';
import type { Finding } from './doctor';

/**
 * What `doctor` says about the providers themselves: the pinned Graph API version against its end of
 * life (from the definition's dated table), what the keepers found and keep in the database (a degraded
 * app, a pause for the rate budget, the last daily self-check), and with `--probe` the endpoint probes
 * run now from this host.
 */
export function configuredProviders(config: Config): ProviderDefinition[] {
  const { instagram, facebook } = config.providers;
  return [
    ...(instagram ? [createInstagramProvider(instagram)] : []),
    ...(facebook ? [createFacebookProvider(facebook)] : []),
  ];
}

const asFinding = (f: CanaryFinding, suffix = ''): Finding => ({
  check: f.check,
  level: f.level,
  message: `${f.message}${suffix}`,
  fix: f.fix,
});

export async function providerFindings(
  config: Config,
  db: Kysely<Database> | undefined,
  options: { now: number; probe: boolean },
): Promise<Finding[]> {
  const providers = configuredProviders(config);
  const findings: Finding[] = [];
  for (const provider of providers) {
    const version = versionFinding(provider, options.now, config.watch.canary.warnDays);
    if (version) findings.push(asFinding(version));
  }
  if (db) {
    let states;
    try {
      states = await readStates(db);
    } catch {
      states = undefined; // The schema is not created yet: databaseFindings says so.
    }
    for (const provider of providers) {
      const state = states?.find((s) => s.provider === provider.id);
      const name = provider.displayName;
      if (state?.degraded_since !== null && state?.degraded_since !== undefined) {
        findings.push({
          check: 'provider-degraded',
          level: 'warn',
          message: `${name} app degraded since ${new Date(Number(state.degraded_since)).toISOString()}: many connections fail the same way (${state.degraded_signature ?? '?'}); connections are not marked for it and keepers probe every ${config.watch.incidents.probeIntervalMs / 1000} s`,
          fix: "Check Meta's status page and the app's dashboard (app mode, restrictions, permissions); igconnect recovers by itself when calls succeed again.",
        });
      } else if (state) {
        findings.push({ check: 'provider-degraded', level: 'ok', message: `${name} app is not degraded`, fix: '' });
      }
      if (
        state?.paused_until !== null &&
        state?.paused_until !== undefined &&
        Number(state.paused_until) > options.now
      ) {
        findings.push({
          check: 'provider-usage',
          level: 'warn',
          message: `${name}: keepers and the proxy hold off until ${new Date(Number(state.paused_until)).toISOString()} (${state.pause_reason ?? 'rate budget'})`,
          fix: 'Nothing to do unless it keeps happening: then lower KEEPER_BATCH_SIZE or the proxied traffic, or ask Meta for a higher rate limit.',
        });
      }
      if (state?.usage_percent !== null && state?.usage_percent !== undefined) {
        const percent = Number(state.usage_percent);
        const at = new Date(Number(state.usage_at)).toISOString();
        findings.push(
          percent >= config.watch.usage.slowPercent
            ? {
                check: 'provider-usage',
                level: 'warn',
                message: `${name}: ${percent}% of the rate budget used (at ${at}); keepers claim fewer connections`,
                fix: 'Spread the proxied traffic, or raise VALIDATE_INTERVAL_HOURS to call Meta less.',
              }
            : {
                check: 'provider-usage',
                level: 'ok',
                message: `${name}: ${percent}% of the rate budget used (at ${at})`,
                fix: '',
              },
        );
      }
      const report = parseReport(state?.canary_report ?? null);
      if (report) {
        const when = ` (daily self-check at ${new Date(report.at).toISOString()})`;
        for (const f of report.findings) if (f.check !== 'api-version') findings.push(asFinding(f, when));
      } else if (!options.probe) {
        findings.push({
          check: 'self-check',
          level: 'ok',
          message: `${name}: no daily self-check has run yet (a running keeper runs it; \`doctor --probe\` runs the endpoint probes now)`,
          fix: '',
        });
      }
    }
  }
  if (options.probe) {
    const http = createHttpClient({ timeoutMs: config.httpTimeoutMs, logger: createLogger({ level: 'silent' }) });
    for (const provider of providers) {
      for (const f of await probeEndpoints(provider, http)) findings.push(asFinding(f, ' (probed now)'));
    }
  }
  return findings;
}
