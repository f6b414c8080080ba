import type { Kysely } from 'kysely';
import type { CanarySettings } from '../config/watch-config';
import type { Database } from '../db/schema';
import type { ProviderDefinition } from '../providers/provider-definition';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import { describeUrl, type HttpClient, HttpTransportError } from '../shared/http-client';
import type { Logger } from '../shared/logger';
import * as repo from './watch.repository';

/**
 * The contract canary: what igconnect relies on Meta keeping, checked ahead of time. The pinned Graph API
 * version's end of life comes from the dated table in the provider definition (warned `warnDays` ahead);
 * the authorize and token endpoints are asked one cheap question each (the authorize page must answer a
 * page or a redirect, the token endpoint must refuse an empty request in its own error shape). Keeper
 * processes run it daily, one instance per interval (a conditional UPDATE in the database); each problem
 * is logged as a warning, the report is kept for `doctor`, the metrics and the next look.
 */
export interface CanaryFinding {
  provider: string;
  check: 'api-version' | 'authorize-endpoint' | 'token-endpoint';
  level: 'ok' | 'warn' | 'error';
  message: string;
  /** What to do; empty for `ok`. */
  fix: string;
}

export interface CanaryReport {
  at: number;
  findings: CanaryFinding[];
  /** The findings that are not ok (what metrics count). */
  problems: CanaryFinding[];
}

const DAY_MS = 86_400_000;

/** The pinned version against its dated end of life. Pure. */
export function versionFinding(provider: ProviderDefinition, now: number, warnDays: number): CanaryFinding | undefined {
  const version = provider.contract?.apiVersion;
  if (!version) return undefined;
  const base = { provider: provider.id, check: 'api-version' as const };
  const source = `(${version.source}, table checked ${version.checkedOn})`;
  if (version.endOfLife === undefined) {
    return {
      ...base,
      level: 'warn',
      message: `${provider.displayName}: the pinned Graph API ${version.version} is not in igconnect's table of versions ${source}, so its end of life is unknown`,
      fix: `Pin a version the table lists, or check Meta's changelog for ${version.version}'s "Available until" date.`,
    };
  }
  if (version.endOfLife === null) {
    return ok(base, `${provider.displayName}: Graph API ${version.version}, no end of life announced ${source}`);
  }
  const end = Date.parse(`${version.endOfLife}T23:59:59Z`);
  const daysLeft = Math.floor((end - now) / DAY_MS);
  if (daysLeft < 0) {
    return {
      ...base,
      level: 'error',
      message: `${provider.displayName}: Graph API ${version.version} reached its end of life on ${version.endOfLife} ${source}; calls fall back to the oldest available version or fail`,
      fix: `Upgrade igconnect, or set the API version setting to a newer version after reading Meta's changelog.`,
    };
  }
  if (daysLeft <= warnDays) {
    return {
      ...base,
      level: 'warn',
      message: `${provider.displayName}: Graph API ${version.version} ends on ${version.endOfLife}, in ${daysLeft} days ${source}`,
      fix: `Plan the move to a newer version before then (upgrade igconnect, or set the API version setting after reading Meta's changelog).`,
    };
  }
  return ok(
    base,
    `${provider.displayName}: Graph API ${version.version} is available until ${version.endOfLife} (${daysLeft} days) ${source}`,
  );
}

/** Asks the authorize and token endpoints their one question each. */
export async function probeEndpoints(provider: ProviderDefinition, http: HttpClient): Promise<CanaryFinding[]> {
  const contract = provider.contract;
  if (!contract) return [];
  const probes = [
    {
      check: 'authorize-endpoint' as const,
      request: contract.authorizeProbe,
      answered: contract.authorizeAnswerOk,
      expected: 'a page or a redirect',
      fix: "Check the authorize URL setting against Meta's current documentation (docs/instagram-platform.md); people cannot connect while it fails.",
    },
    {
      check: 'token-endpoint' as const,
      request: contract.tokenProbe,
      answered: contract.tokenAnswerOk,
      expected: 'its error shape to an empty request',
      fix: "Check the token URL setting against Meta's current documentation; connects fail at the code exchange while it does.",
    },
  ];
  const findings: CanaryFinding[] = [];
  for (const probe of probes) {
    const where = describeUrl(probe.request.url);
    const base = { provider: provider.id, check: probe.check };
    try {
      const response = await http(probe.request);
      findings.push(
        probe.answered(response)
          ? ok(base, `${provider.displayName}: ${where} answered as expected (HTTP ${response.status})`)
          : {
              ...base,
              level: 'error',
              message: `${provider.displayName}: ${where} answered HTTP ${response.status}, not ${probe.expected}`,
              fix: probe.fix,
            },
      );
    } catch (error) {
      const what =
        error instanceof HttpTransportError
          ? error.kind === 'timeout'
            ? 'did not answer in time'
            : 'could not be reached'
          : 'failed';
      findings.push({
        ...base,
        level: 'warn',
        message: `${provider.displayName}: ${where} ${what}`,
        fix: 'Check the network from this host to Meta; if it persists, ' + probe.fix,
      });
    }
  }
  return findings;
}

export function parseReport(text: string | null): CanaryReport | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as CanaryReport;
  } catch {
    return undefined;
  }
}

export class SelfCheck {
  private lastLook = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      clock: Clock;
      logger: Logger;
      providers: ProviderRegistry;
      http: HttpClient;
      settings: CanarySettings;
    },
  ) {}

  /**
   * Runs the self-check when this process has not looked within the interval and no other instance ran
   * it within the interval (claimed per provider in the database). Cheap otherwise: no statement.
   */
  async runIfDue(): Promise<void> {
    const { clock, settings, db } = this.deps;
    if (settings.intervalMs === 0) return;
    const now = clock.now();
    if (now - this.lastLook < Math.min(settings.intervalMs, 3_600_000)) return;
    this.lastLook = now;
    for (const provider of this.deps.providers.all()) {
      if (!provider.contract) continue;
      const claimed = await repo.updateState(
        db,
        provider.id,
        now,
        { canary_at: now },
        'canary_due',
        now - settings.intervalMs,
      );
      if (claimed) await this.run(provider);
    }
  }

  /** Runs every check for one provider, logs what is not ok, and keeps the report. */
  async run(provider: ProviderDefinition): Promise<CanaryReport> {
    const { clock, settings, logger, db, http } = this.deps;
    const now = clock.now();
    const findings = [
      ...[versionFinding(provider, now, settings.warnDays)].filter((f): f is CanaryFinding => f !== undefined),
      ...(await probeEndpoints(provider, http)),
    ];
    const report: CanaryReport = { at: now, findings, problems: findings.filter((f) => f.level !== 'ok') };
    await repo.updateState(
      db,
      provider.id,
      clock.now(),
      { canary_at: now, canary_report: JSON.stringify(report) },
      'always',
    );
    for (const problem of report.problems) {
      logger.warn(
        { provider: provider.id, check: problem.check, severity: problem.level, fix: problem.fix },
        `self-check: ${problem.message}`,
      );
    }
    logger.info({ provider: provider.id, problems: report.problems.length }, 'self-check done');
    return report;
  }
}

function ok(base: { provider: string; check: CanaryFinding['check'] }, message: string): CanaryFinding {
  return { ...base, level: 'ok', message, fix: '' };
}
