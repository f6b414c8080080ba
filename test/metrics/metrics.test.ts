import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMetricsServer } from '../../src/metrics/metrics-http';
import { endpointShape } from '../../src/metrics/metrics';
import { DAY, HOUR } from '../../src/shared/clock';
import { apiKey, bearer } from '../api/api-support';
import { seedConnection, storedToken } from '../support/factories';
import { startTestApp, type TestApp } from '../support/harness';

/** Metrics (prom-client): never public by default, behind a bearer token or on a listener of its own. */

const TOKEN = 'metrics-token-0123456789abcdefghijklmnopqrstuv';

function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    })
      .on('error', reject)
      .end();
  });
}

describe('metrics', () => {
  let app: TestApp;
  afterEach(async () => {
    await app?.close();
  });

  it('when nothing is configured, then no metrics are served and none are counted', async () => {
    app = await startTestApp();
    expect(app.container.metrics).toBeUndefined();
    const response = await app.agent().get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    expect(response.status).toBe(404);
  });

  it('when METRICS_TOKEN is set, then /metrics needs it, and answers connections, calls, steps, routes and the outbox', async () => {
    app = await startTestApp({ env: { METRICS_TOKEN: TOKEN } });
    expect((await app.agent().get('/metrics')).status).toBe(401);
    expect((await app.agent().get('/metrics').set('Authorization', `Bearer ${TOKEN}x`)).status).toBe(401);

    const seeded = [];
    for (let i = 0; i < 3; i += 1) seeded.push(await seedConnection(app));
    const { key } = await apiKey(app);
    const id = seeded[0]?.id ?? '';
    expect((await app.agent().get(`/api/v1/connections/${id}`).set(bearer(key))).status).toBe(200);
    expect((await app.agent().get(`/api/v1/connections/${id}/proxy/me`).set(bearer(key))).status).toBe(200);
    app.clock.advance(DAY + 6 * HOUR);
    // Due and not swept yet: the keeper lags.
    let text = (await app.agent().get('/metrics').set('Authorization', `Bearer ${TOKEN}`)).text;
    expect(Number(/^igconnect_keeper_lag_seconds\{[^}]*\} (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    await app.container.createKeeper().sweep();

    const response = await app.agent().get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    text = response.text;
    expect(text).toMatch(/^igconnect_connections\{provider="instagram",status="active",process="web"\} 3$/m);
    expect(text).toMatch(/^igconnect_keeper_lag_seconds\{process="web"\} 0$/m);
    expect(text).toMatch(
      /^igconnect_lifecycle_steps_total\{provider="instagram",action="validate",outcome="ok",reason="ok",process="web"\} 3$/m,
    );
    expect(text).toMatch(
      /^igconnect_http_requests_total\{method="GET",route="\/api\/v1\/connections\/:id",status="200",process="web"\} 1$/m,
    );
    expect(text).toContain('route="/api/v1/connections/:id/proxy{/*path}"');
    expect(text).toMatch(
      /^igconnect_provider_calls_total\{endpoint="127\.0\.0\.1:\d+\/sandbox\/graph\/v25\.0\/me",method="GET",status="200",process="web"\} 4$/m,
    );
    expect(text).toContain('igconnect_provider_call_duration_seconds_bucket');
    expect(text).toMatch(/^igconnect_provider_degraded\{provider="instagram",process="web"\} 0$/m);
    expect(text).toMatch(/^igconnect_provider_usage_percent\{provider="instagram",process="web"\} 1$/m);
    expect(text).toMatch(
      /^igconnect_graph_version_days_left\{provider="instagram",version="v25\.0",process="web"\} \d+$/m,
    );
    expect(text).toMatch(/^igconnect_events_pending\{process="web"\} 0$/m);
    expect(text).toMatch(/^igconnect_events_failed\{process="web"\} 0$/m);
    // Never an id, a token or a key in a label.
    for (const secret of [id, storedToken(app, seeded[0] ?? (undefined as never)), key])
      expect(text).not.toContain(secret);
  });

  it('when the app is degraded, then the gauge says 1 and the steps say why nothing was marked', async () => {
    app = await startTestApp({ env: { METRICS_TOKEN: TOKEN } });
    for (let i = 0; i < 5; i += 1) await seedConnection(app);
    app.clock.advance(DAY + 6 * HOUR);
    app.sandbox.setIncident(app.sandbox.graphError(190, 460));
    await app.container.createKeeper().sweep();
    const text = (await app.agent().get('/metrics').set('Authorization', `Bearer ${TOKEN}`)).text;
    expect(text).toMatch(/^igconnect_provider_degraded\{provider="instagram",process="web"\} 1$/m);
    expect(text).toMatch(/reason="app_degraded"/);
    expect(text).not.toMatch(/outcome="token_invalid"/);
    expect(text).toMatch(/^igconnect_connections\{provider="instagram",status="active",process="web"\} 5$/m);
  });

  it('when METRICS_PORT is set, then a listener of its own serves /metrics and nothing else', async () => {
    app = await startTestApp({ env: { METRICS_PORT: '9464' } });
    const metrics = app.container.metrics;
    if (!metrics) throw new Error('metrics are configured');
    // Port 0 here: the test takes any free port rather than the configured one.
    const server = await startMetricsServer(
      metrics,
      { port: 0, host: '127.0.0.1', token: undefined },
      app.container.logger,
    );
    try {
      const { port } = server?.address() as AddressInfo;
      const ok = await get(`http://127.0.0.1:${port}/metrics`);
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('igconnect_connections');
      expect((await get(`http://127.0.0.1:${port}/`)).status).toBe(404);
      // Not on the app's own port: no token was configured.
      expect((await app.agent().get('/metrics')).status).toBe(404);
    } finally {
      server?.close();
    }
  });

  it('endpoint labels keep plain words and the version, and blank ids', () => {
    expect(endpointShape('graph.instagram.com/v25.0/17841405793187219/media')).toBe(
      'graph.instagram.com/v25.0/:id/media',
    );
    expect(endpointShape('graph.facebook.com/v25.0/me/accounts')).toBe('graph.facebook.com/v25.0/me/accounts');
    expect(endpointShape('api.instagram.com/oauth/access_token')).toBe('api.instagram.com/oauth/access_token');
    expect(endpointShape('graph.instagram.com/a/b/c/d/e/f/g')).toBe('graph.instagram.com/a/b/c/d/e');
  });
});
