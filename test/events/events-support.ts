import type { EventRelay } from '../../src/events/relay';
import { startTestApp, type TestApp } from '../support/harness';
import { EventReceiver } from './receiver';

export interface EventsTestApp {
  app: TestApp;
  receiver: EventReceiver;
  /** The app's relay (not started: tests run its rounds with deliverDue()). */
  relay: EventRelay;
  close(): Promise<void>;
}

/** The test app with signed events going to a real receiver that verifies them with `standardwebhooks`. */
export async function startEventsApp(
  options: { env?: Record<string, string>; start?: number } = {},
): Promise<EventsTestApp> {
  const receiver = await EventReceiver.start();
  const app = await startTestApp({
    start: options.start,
    env: {
      EVENTS_WEBHOOK_URL: receiver.url,
      EVENTS_WEBHOOK_SECRET: receiver.secret,
      EVENTS_TIMEOUT_SECONDS: '2',
      ...options.env,
    },
  });
  const relay = app.container.createRelay('test-relay');
  if (!relay) throw new Error('events should be configured');
  return {
    app,
    receiver,
    relay,
    close: async () => {
      await relay.stop();
      await app.close();
      await receiver.close();
    },
  };
}

/** The outbox as stored, in the order of each connection's changes. */
export function outboxRows(app: TestApp) {
  return app.container.db.selectFrom('events').selectAll().orderBy('created_at').orderBy('seq').execute();
}

/** No delivery carries a token: neither Instagram's token shape nor any token stored at the time. */
export function expectNoTokens(bodies: string[], tokens: string[] = []): void {
  for (const body of bodies) {
    expect(body).not.toMatch(/IGAA/);
    expect(body).not.toMatch(/access_token/);
    for (const token of tokens) expect(body).not.toContain(token);
  }
}
