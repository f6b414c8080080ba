import type { Kysely } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/schema';
import type { ProviderSnapshot, ProviderWatch } from '../incidents/provider-watch';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import type { ProviderCall } from '../shared/http-client';

/**
 * igconnect's Prometheus metrics (prom-client), per process: counters and histograms are counted where
 * things happen (every call to a provider goes through the HTTP client, every keeper step through
 * LifecycleService, every request through the app), and the gauges that describe shared state
 * (connections by status, keeper lag, the event outbox, the providers' state) are read from the
 * database and the provider watch when scraped. Labels are bounded: route templates and endpoint shapes,
 * never raw paths with ids, tokens or secrets.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly providerCalls: Counter<'endpoint' | 'method' | 'status'>;
  private readonly providerCallSeconds: Histogram<'endpoint' | 'method'>;
  private readonly lifecycleSteps: Counter<'provider' | 'action' | 'outcome' | 'reason'>;
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpSeconds: Histogram<'method' | 'route'>;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      clock: Clock;
      providers: ProviderRegistry;
      watch?: ProviderWatch;
      /** Which kind of process counts (a default label): with several instances, metrics are per process. */
      process: 'web' | 'worker';
    },
  ) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ process: deps.process });
    collectDefaultMetrics({ register: this.registry, prefix: 'igconnect_' });

    this.providerCalls = new Counter({
      name: 'igconnect_provider_calls_total',
      help: 'Calls to providers by endpoint (host and path shape), method and status (or timeout/network).',
      labelNames: ['endpoint', 'method', 'status'],
      registers,
    });
    this.providerCallSeconds = new Histogram({
      name: 'igconnect_provider_call_duration_seconds',
      help: 'Latency of calls to providers, by endpoint and method.',
      labelNames: ['endpoint', 'method'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.lifecycleSteps = new Counter({
      name: 'igconnect_lifecycle_steps_total',
      help: 'Refreshes, validations and expiries by provider, outcome and reason (ok, revoked, app_degraded, …).',
      labelNames: ['provider', 'action', 'outcome', 'reason'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'igconnect_http_requests_total',
      help: 'Requests answered, by method, route template and status (429: our own rate limits).',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpSeconds = new Histogram({
      name: 'igconnect_http_request_duration_seconds',
      help: 'Time to answer requests, by method and route template.',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });

    const { db, clock } = deps;
    new Gauge({
      name: 'igconnect_connections',
      help: 'Stored connections by provider and status.',
      labelNames: ['provider', 'status'],
      registers,
      async collect() {
        const rows = await db
          .selectFrom('connections')
          .select(['provider', 'status', (eb) => eb.fn.countAll().as('n')])
          .groupBy(['provider', 'status'])
          .execute();
        this.reset();
        for (const r of rows) this.set({ provider: r.provider, status: r.status }, Number(r.n));
      },
    });
    new Gauge({
      name: 'igconnect_keeper_lag_seconds',
      help: 'How overdue the oldest due keeper action is (0: nothing overdue).',
      registers,
      async collect() {
        const row = await db
          .selectFrom('connections')
          .select((eb) => eb.fn.min('next_action_at').as('oldest'))
          .where('next_action_at', '<=', clock.now())
          .executeTakeFirst();
        const oldest = row?.oldest;
        this.set(oldest === null || oldest === undefined ? 0 : Math.max(0, (clock.now() - Number(oldest)) / 1000));
      },
    });
    new Gauge({
      name: 'igconnect_events_pending',
      help: 'Signed events written and not yet delivered nor given up (the outbox depth).',
      registers,
      async collect() {
        const row = await db
          .selectFrom('events')
          .select((eb) => [eb.fn.countAll().as('n'), eb.fn.min('created_at').as('oldest')])
          .where('delivered_at', 'is', null)
          .where('failed_at', 'is', null)
          .executeTakeFirst();
        this.set(Number(row?.n ?? 0));
        oldestPending =
          row?.oldest === null || row?.oldest === undefined ? 0 : (clock.now() - Number(row.oldest)) / 1000;
      },
    });
    let oldestPending = 0;
    new Gauge({
      name: 'igconnect_events_oldest_pending_seconds',
      help: 'Age of the oldest undelivered event (0: none).',
      registers,
      collect() {
        this.set(Math.max(0, oldestPending));
      },
    });
    new Gauge({
      name: 'igconnect_events_failed',
      help: 'Signed events given up after their retries.',
      registers,
      async collect() {
        const row = await db
          .selectFrom('events')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('failed_at', 'is not', null)
          .executeTakeFirst();
        this.set(Number(row?.n ?? 0));
      },
    });
    new Gauge({
      name: 'igconnect_events_retrying',
      help: 'Undelivered events that failed at least one delivery attempt.',
      registers,
      async collect() {
        const row = await db
          .selectFrom('events')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('delivered_at', 'is', null)
          .where('failed_at', 'is', null)
          .where('attempts', '>', 0)
          .executeTakeFirst();
        this.set(Number(row?.n ?? 0));
      },
    });

    const watch = deps.watch;
    const providers = deps.providers;
    if (watch) {
      // The provider states are read once a second at most (the watch's cache), however many gauges ask.
      const perProvider = (
        name: string,
        help: string,
        value: (state: ProviderSnapshot, now: number) => number,
      ): Gauge<'provider'> =>
        new Gauge({
          name,
          help,
          labelNames: ['provider'],
          registers,
          async collect() {
            const now = clock.now();
            for (const state of await watch.all()) this.set({ provider: state.provider }, value(state, now));
          },
        });
      perProvider(
        'igconnect_provider_degraded',
        "1 while the provider's app is degraded (many connections failing the same way), else 0.",
        (state) => (state.degraded ? 1 : 0),
      );
      perProvider(
        'igconnect_provider_usage_percent',
        "The provider's rate-budget usage from its usage headers (the highest of app and business), percent.",
        (state) => state.usage?.percent ?? 0,
      );
      perProvider(
        'igconnect_provider_paused',
        '1 while keepers and the proxy hold off calls to the provider (rate budget), else 0.',
        (state, now) => (state.pausedUntil !== null && state.pausedUntil > now ? 1 : 0),
      );
      perProvider(
        'igconnect_provider_canary_problems',
        'Problems the last daily self-check found (endpoints answering unexpectedly, version end of life near).',
        (state) => problemsIn(state.canary?.report ?? null),
      );
    }
    new Gauge({
      name: 'igconnect_graph_version_days_left',
      help: "Days until the pinned API version's announced end of life (-1: none announced or not in the table).",
      labelNames: ['provider', 'version'],
      registers,
      collect() {
        for (const p of providers.all()) {
          const version = p.contract?.apiVersion;
          if (!version) continue;
          const end = version.endOfLife ? Date.parse(`${version.endOfLife}T23:59:59Z`) : undefined;
          this.set(
            { provider: p.id, version: version.version },
            end === undefined ? -1 : Math.floor((end - clock.now()) / 86_400_000),
          );
        }
      },
    });
  }

  /** The HTTP client's hook: one call to a provider finished. */
  readonly observeProviderCall = (call: ProviderCall): void => {
    const endpoint = endpointShape(call.target);
    this.providerCalls.inc({ endpoint, method: call.method, status: String(call.status) });
    this.providerCallSeconds.observe({ endpoint, method: call.method }, call.seconds);
  };

  /** LifecycleService's hook: one keeper (or manual, or API) step finished. */
  readonly observeStep = (step: { provider: string; action: string; outcome: string; reason: string }): void => {
    this.lifecycleSteps.inc(step);
  };

  /** The app's request hook: `route` is a template (`/api/v1/connections/:id`) or `unmatched`. */
  observeRequest(request: { method: string; route: string; status: number; seconds: number }): void {
    this.httpRequests.inc({ method: request.method, route: request.route, status: String(request.status) });
    this.httpSeconds.observe({ method: request.method, route: request.route }, request.seconds);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function problemsIn(report: string | null): number {
  if (!report) return 0;
  try {
    const parsed = JSON.parse(report) as { problems?: unknown };
    return Array.isArray(parsed.problems) ? parsed.problems.length : 0;
  } catch {
    return 0;
  }
}

/**
 * A provider URL as a bounded label: host and path, with every segment that is not a plain word
 * (numbers, ids, anything long or odd) written `:id`, at most five segments. `graph.instagram.com/v25.0/
 * 17841400000/media` is `graph.instagram.com/v25.0/:id/media`.
 */
export function endpointShape(target: string): string {
  const slash = target.indexOf('/');
  const host = slash === -1 ? target : target.slice(0, slash);
  const path = slash === -1 ? '' : target.slice(slash + 1);
  const segments = path
    .split('/')
    .filter((s) => s !== '')
    .slice(0, 5)
    .map((s) => (/^v\d+\.\d+$/.test(s) || /^[a-z_]{1,40}$/.test(s) ? s : ':id'));
  return `${host}/${segments.join('/')}`;
}
