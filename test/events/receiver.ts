import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** A fresh Standard Webhooks secret, as a deployer would make one (`whsec_$(openssl rand -base64 32)`). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface ReceivedEvent {
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { id: string; reason?: string };
}

/** One request the receiver got, whatever it answered. */
export interface Delivery {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The standardwebhooks library accepted the signature (and the timestamp). */
  verified: boolean;
  /** What the receiver answered: a status, or 'hung' for a request it never answered. */
  answered: number | 'hung';
  event?: ReceivedEvent;
  /** Steps of one counter: when the request arrived, and when it was answered. */
  arrived: number;
  answeredAt?: number;
}

/**
 * The deployer's receiver, as the README shows it: it verifies each request with the `standardwebhooks`
 * package and answers 400 to anything that does not verify. Tests switch it between answering (`up`),
 * failing with 500 (`fail`), never answering (`hang`) and refusing connections (`down()`).
 */
export class EventReceiver {
  readonly deliveries: Delivery[] = [];
  mode: 'up' | 'fail' | 'hang' = 'up';
  /** Real time each verified request takes before it is answered (to widen races), or a time per event. */
  delayMs: number | ((event: ReceivedEvent) => number) = 0;
  /** Ids seen in flight twice at once: must stay empty. */
  readonly overlapping: string[] = [];
  private readonly verifier: Webhook;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly inFlight = new Map<string, number>();
  private readonly hung = new Map<ServerResponse, Delivery>();
  private steps = 0;

  private constructor(
    readonly secret: string,
    readonly port: number,
  ) {
    this.verifier = new Webhook(secret);
  }

  static async start(secret = newWebhookSecret()): Promise<EventReceiver> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const receiver = new EventReceiver(secret, port);
    await receiver.up();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/igconnect`;
  }

  /** The events it accepted (verified and answered 2xx), in the order it answered them. */
  accepted(): ReceivedEvent[] {
    return this.acceptedDeliveries().map((d) => d.event as ReceivedEvent);
  }

  acceptedDeliveries(): Delivery[] {
    return this.deliveries
      .filter((d) => d.verified && typeof d.answered === 'number' && d.answered < 300)
      .sort((a, b) => (a.answeredAt ?? 0) - (b.answeredAt ?? 0));
  }

  /** Listens (again) on its port. */
  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  /** Stops listening and drops every open connection: igconnect's requests are refused. */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Answers every request left hanging with 200 (those whose sender is still there count as accepted). */
  release(): void {
    for (const [res, delivery] of this.hung) {
      if (!res.destroyed) {
        delivery.answered = 200;
        delivery.answeredAt = this.steps += 1;
        res.writeHead(200).end();
      }
    }
    this.hung.clear();
  }

  async waitFor(condition: () => boolean, what = 'the receiver', timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async waitForAccepted(count: number, timeoutMs = 20_000): Promise<ReceivedEvent[]> {
    await this.waitFor(() => this.accepted().length >= count, `${count} accepted events`, timeoutMs);
    return this.accepted();
  }

  async close(): Promise<void> {
    await this.down();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const header = (name: string) => String(req.headers[name] ?? '');
    const delivery: Delivery = {
      id: header('webhook-id'),
      timestamp: header('webhook-timestamp'),
      signature: header('webhook-signature'),
      body,
      verified: false,
      answered: 'hung',
      arrived: (this.steps += 1),
    };
    this.deliveries.push(delivery);
    try {
      delivery.event = this.verifier.verify(body, {
        'webhook-id': delivery.id,
        'webhook-timestamp': delivery.timestamp,
        'webhook-signature': delivery.signature,
      }) as ReceivedEvent;
      delivery.verified = true;
    } catch {
      delivery.answered = 400;
      res.writeHead(400).end('bad signature');
      return;
    }
    const inFlight = (this.inFlight.get(delivery.id) ?? 0) + 1;
    this.inFlight.set(delivery.id, inFlight);
    if (inFlight > 1) this.overlapping.push(delivery.id);
    // In flight until answered, or until the sender gives up or dies and the connection closes.
    res.on('close', () => this.inFlight.set(delivery.id, (this.inFlight.get(delivery.id) ?? 1) - 1));
    const delay = typeof this.delayMs === 'number' ? this.delayMs : this.delayMs(delivery.event);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (this.mode === 'hang') {
      this.hung.set(res, delivery);
      return;
    }
    delivery.answered = this.mode === 'up' ? 204 : 500;
    delivery.answeredAt = this.steps += 1;
    res.writeHead(delivery.answered).end();
  }
}
