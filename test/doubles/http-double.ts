import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the double saw it (secrets included: the double is test-only and never logs). */
export interface RecordedCall {
  method: string;
  path: string;
  /** The protocol operation: `secretsmanager.PutSecretValue`, `POST secret/data/...`. */
  operation: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface DoubleResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON-encoded unless a string; omitted for 204. */
  body?: unknown;
}

export type FaultStatus = 400 | 429 | 500 | 502 | 503 | 504;

interface FaultRule {
  kind: 'fail' | 'drop';
  remaining: number;
  status?: FaultStatus;
  /** For AWS: the `__type` of the failure (ThrottlingException, InternalServiceError, ...). */
  type?: string;
  /** drop: answer nothing after the request was applied (a lost response), instead of before. */
  afterApplying?: boolean;
  match?: (call: RecordedCall) => boolean;
}

export interface FaultOptions {
  /** Only calls this matches are affected (and counted). */
  match?: (call: RecordedCall) => boolean;
  type?: string;
}

/**
 * Fault injection shared by the doubles: fail the next N (matching) calls with
 * a status, drop the connection before or after applying the request, and add
 * latency to every call.
 */
export class Faults {
  latencyMs = 0;
  private rules: FaultRule[] = [];

  /** The next `count` matching calls answer `status` with the protocol's error body. */
  failNext(count: number, status: FaultStatus, options: FaultOptions = {}): this {
    this.rules.push({ kind: 'fail', remaining: count, status, type: options.type, match: options.match });
    return this;
  }

  /**
   * The next `count` matching calls get their connection destroyed with no answer:
   * before the double looks at them, or (`afterApplying`) once it has applied them.
   */
  dropNext(count: number, options: FaultOptions & { afterApplying?: boolean } = {}): this {
    this.rules.push({ kind: 'drop', remaining: count, afterApplying: options.afterApplying, match: options.match });
    return this;
  }

  clear(): void {
    this.rules = [];
    this.latencyMs = 0;
  }

  /** Consumes and returns the first rule this call triggers. */
  take(call: RecordedCall): FaultRule | null {
    const rule = this.rules.find((r) => r.remaining > 0 && (!r.match || r.match(call)));
    if (!rule) return null;
    rule.remaining--;
    this.rules = this.rules.filter((r) => r.remaining > 0);
    return rule;
  }
}

/** A real HTTP server on 127.0.0.1 and a random port, with a call log and fault injection. */
export abstract class HttpDouble {
  readonly calls: RecordedCall[] = [];
  readonly faults = new Faults();
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private address = '';

  get url(): string {
    if (!this.address) throw new Error('the double is not started');
    return this.address;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.serve(req, res));
    server.keepAliveTimeout = 5000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Calls whose operation matches, e.g. `count(/approle\/login/)`. */
  count(operation: RegExp): number {
    return this.calls.filter((c) => operation.test(c.operation)).length;
  }

  protected abstract operationOf(req: IncomingMessage, body: unknown): string;
  protected abstract handle(call: RecordedCall, req: IncomingMessage, rawBody: string): DoubleResponse;
  protected abstract faultResponse(status: FaultStatus, type: string | undefined, call: RecordedCall): DoubleResponse;
  /** The answer to a body that is not JSON. */
  protected abstract badJson(call: RecordedCall): DoubleResponse;

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    let body: unknown = undefined;
    let parsed = true;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        parsed = false;
      }
    }
    const call: RecordedCall = { method: req.method ?? 'GET', path: req.url ?? '/', operation: '', headers: req.headers, body };
    call.operation = this.operationOf(req, body);
    this.calls.push(call);

    // Unref'd: a slow answer still pending when the double stops must not keep the test process alive.
    if (this.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.latencyMs).unref());
    const fault = this.faults.take(call);
    if (fault?.kind === 'drop' && !fault.afterApplying) {
      req.socket.destroy();
      return;
    }
    let response: DoubleResponse;
    if (fault?.kind === 'fail') {
      response = this.faultResponse(fault.status!, fault.type, call);
    } else if (!parsed) {
      response = this.badJson(call);
    } else {
      try {
        response = this.handle(call, req, rawBody);
      } catch (error) {
        response = this.faultResponse(500, undefined, call);
        console.error('double failed', error);
      }
    }
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (res.destroyed) return;
    const headers = { ...response.headers };
    if (response.status === 204 || response.body === undefined) {
      res.writeHead(response.status, headers).end();
      return;
    }
    const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
    res.writeHead(response.status, { 'content-length': Buffer.byteLength(text), ...headers }).end(text);
  }
}
