import { type EnvReader, rangeMessage, wholeNumber } from '../shared/env';

/**
 * Watching the providers themselves (src/incidents) and exposing metrics (src/metrics). Read from the same
 * environment as the rest of the configuration (loadConfig keeps the result as `config.watch`).
 */
export interface IncidentSettings {
  /** Connections failing with one signature within `windowMs` that make the provider's app degraded. */
  minConnections: number;
  windowMs: number;
  /** While degraded, a keeper probes the provider (one real call) this often. */
  probeIntervalMs: number;
  /** Other connections checked at once when a token is refused, to tell its own death from an incident. */
  crossChecks: number;
}

export interface UsageSettings {
  /** From this rate-budget usage (percent), keepers claim fewer connections per sweep. */
  slowPercent: number;
  /** From this usage, keepers and the proxy hold off until the window frees. */
  pausePercent: number;
  /** How long they hold off when the provider names no time of its own. */
  pauseMs: number;
}

export interface CanarySettings {
  /** Warn this many days before the pinned API version's end of life. */
  warnDays: number;
  /** The self-check runs this often in keeper processes; 0 turns it off. */
  intervalMs: number;
}

export interface MetricsSettings {
  /** A listener of its own for GET /metrics (on `host`); undefined: none. */
  port: number | undefined;
  host: string;
  /** GET /metrics on the app's own port with `Authorization: Bearer <token>`; undefined: not served there. */
  token: string | undefined;
}

export interface WatchConfig {
  incidents: IncidentSettings;
  usage: UsageSettings;
  canary: CanarySettings;
  metrics: MetricsSettings;
}

export const DEFAULT_WATCH: WatchConfig = {
  incidents: { minConnections: 3, windowMs: 600_000, probeIntervalMs: 300_000, crossChecks: 2 },
  usage: { slowPercent: 80, pausePercent: 95, pauseMs: 300_000 },
  canary: { warnDays: 90, intervalMs: 86_400_000 },
  metrics: { port: undefined, host: '127.0.0.1', token: undefined },
};

export const MIN_METRICS_TOKEN_LENGTH = 32;

/** Reads the settings, recording each problem on the reader (as loadConfig does). */
export function readWatch(reader: EnvReader): WatchConfig {
  const number = (name: string, fallback: number, min: number, max: number): number =>
    reader.read(name, wholeNumber(rangeMessage(name, min, max), min, max), String(fallback)) ?? fallback;
  const slowPercent = number('USAGE_SLOW_PERCENT', 80, 1, 100);
  const pausePercent = number('USAGE_PAUSE_PERCENT', 95, 1, 100);
  if (pausePercent <= slowPercent) {
    reader.problem('USAGE_PAUSE_PERCENT must be above USAGE_SLOW_PERCENT');
  }
  const port = reader.read('METRICS_PORT', wholeNumber(rangeMessage('METRICS_PORT', 1, 65535), 1, 65535));
  const token = reader.raw('METRICS_TOKEN');
  if (token !== undefined && token.length < MIN_METRICS_TOKEN_LENGTH) {
    reader.problem(
      `METRICS_TOKEN is too short (${token.length} characters; at least ${MIN_METRICS_TOKEN_LENGTH}, e.g. openssl rand -hex 32)`,
    );
  }
  const host = reader.raw('METRICS_HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) reader.problem('METRICS_HOST must be an address or a host name');
  return {
    incidents: {
      minConnections: number('INCIDENT_MIN_CONNECTIONS', 3, 2, 100_000),
      windowMs: number('INCIDENT_WINDOW_SECONDS', 600, 60, 86_400) * 1000,
      probeIntervalMs: number('INCIDENT_PROBE_SECONDS', 300, 5, 86_400) * 1000,
      crossChecks: number('INCIDENT_CROSS_CHECKS', 2, 0, 10),
    },
    usage: { slowPercent, pausePercent, pauseMs: number('USAGE_PAUSE_SECONDS', 300, 10, 86_400) * 1000 },
    canary: {
      warnDays: number('CANARY_WARN_DAYS', 90, 1, 730),
      intervalMs: number('CANARY_INTERVAL_HOURS', 24, 0, 24 * 30) * 3_600_000,
    },
    metrics: { port, host, token },
  };
}
