import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request a receiver got, and what it answered. */
export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  json: any;
  /** performance.now() when the request body had arrived. */
  receivedAt: number;
  status: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Answer after this long (a slow gateway). */
  delayMs?: number;
}

/** Decides the answer to each request; `n` counts requests from 0. */
export type Responder = (request: ReceivedWebhook, n: number) => Reply;

/**
 * A gateway double speaking plain HTTP: records every POST (raw body and
 * headers, so signatures can be verified byte for byte) and answers as told.
 */
export class GatewayReceiver {
  readonly received: ReceivedWebhook[] = [];
  private readonly sockets = new Set<Socket>();
  /** Answers held back by `delayMs`: dropped on close, so a closed receiver leaves no timer behind. */
  private readonly held = new Set<NodeJS.Timeout>();
  private waiters: Array<() => void> = [];
  private count = 0;

  private constructor(
    private readonly server: http.Server,
    private responder: Responder,
  ) {}

  static async start(responder: Responder = () => ({ status: 204 })): Promise<GatewayReceiver> {
    let self: GatewayReceiver | null = null;
    const server = http.createServer((req, res) => self!.handle(req, res));
    server.keepAliveTimeout = 30_000;
    self = new GatewayReceiver(server, responder);
    server.on('connection', (socket) => {
      self!.sockets.add(socket);
      socket.on('close', () => self!.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
  }

  respondWith(responder: Responder): void {
    this.responder = responder;
  }

  /** Requests answered 2xx. */
  acknowledged(): ReceivedWebhook[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }

  /** Acknowledged events of one type (and credential, if given). */
  events(type?: string, credentialId?: string): ReceivedWebhook[] {
    return this.acknowledged().filter(
      (r) => (!type || r.json?.type === type) && (!credentialId || r.json?.data?.credentialId === credentialId),
    );
  }

  /** Resolves once `predicate` holds for what was received; rejects after `timeoutMs`. */
  async waitFor(predicate: (receiver: GatewayReceiver) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!predicate(this)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`receiver: timed out waiting for ${what}; got ${this.received.length} requests`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    for (const timer of this.held) clearTimeout(timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        // recorded as is
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const request: ReceivedWebhook = { headers, body, json, receivedAt: performance.now(), status: 0 };
      const reply = this.responder(request, this.count++);
      const send = () => {
        request.status = reply.status;
        this.received.push(request);
        res.writeHead(reply.status, reply.headers ?? {});
        res.end();
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      };
      if (reply.delayMs) {
        const timer = setTimeout(() => {
          this.held.delete(timer);
          send();
        }, reply.delayMs);
        this.held.add(timer);
      } else {
        send();
      }
    });
  }
}

/** Polls `check` until it returns a truthy value; rejects after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
