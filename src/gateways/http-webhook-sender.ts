import type { LookupAddress, LookupOptions } from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';

import { Injectable } from '@nestjs/common';

import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../common/shutdown/shutdown-step';
import { AppConfig } from '../config/app-config';
import { AddressPolicy, addressProblem, parseAddress } from './gateway-address';
import { HostResolver, ResolvedAddress } from './host-resolver';
import { Http1Response } from './http1-response';
import { WebhookRequest, WebhookResult, WebhookSender } from './webhook-sender';

const USER_AGENT = 'agent-credentials-webhooks/1';
/** Connections open to one origin at most; a request beyond waits for one to be free. */
const MAX_SOCKETS = 256;
/**
 * A kept-alive connection unused this long is closed rather than reused: servers close idle connections
 * (Node's default after 5 s), and one closed just as a request goes out costs that request a retry.
 */
const IDLE_MS = 4_000;
/** What node:http refuses in a header value. */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** The URL's host is, or resolves to, an address webhooks may not go to. */
class DestinationRefusedError extends Error {
  readonly code = 'EDESTINATIONREFUSED';
}

type AttemptResult = WebhookResult & { reusedSocket?: boolean };

/**
 * WebhookSender: HTTP/1.1 POSTs over kept-alive TCP (or TLS) connections,
 * written and read here rather than through node:http's client, which cost
 * about five times the CPU per request (docs/delivery.md, "What a delivery
 * costs"). Each request goes out in one write (head and body), one at a time
 * per connection; the answer is read by Http1Response (http1-response.ts),
 * which skips the body by its framing so the connection can carry the next
 * one. Redirects are never followed, so a 3xx comes back as an answer (and
 * counts as a failure). The timeout covers waiting for a connection,
 * resolving, connecting, sending and the response head; the body then gets as
 * long again, or the connection is closed. TLS is node:tls with its defaults:
 * the certificate is verified against the URL's host name.
 *
 * Where a webhook may go is checked on the address actually connected to: an
 * IP literal before connecting, a name inside the socket's lookup, which
 * resolves once through HostResolver, refuses the name if any address is
 * forbidden (gateway-address.ts), and hands the socket exactly the checked
 * addresses. No second resolution happens, so a DNS answer that changes
 * between check and connect (rebinding) cannot slip through. A kept-alive
 * connection was checked when it was opened.
 */
@Injectable()
export class HttpWebhookSender extends WebhookSender implements ShutdownParticipant {
  private readonly policy: AddressPolicy;
  /** Targets by URL string (targetOf), the oldest dropped beyond MAX_TARGETS. */
  private readonly targets = new Map<string, Target>();
  /** Connections by origin. */
  private readonly pools = new Map<string, Pool>();
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly resolver: HostResolver,
    config: AppConfig,
  ) {
    super();
    this.policy = { allowPrivateNetworks: config.gateways.allowPrivateNetworks, allowLoopback: config.gateways.allowLoopback };
    this.sweeper = setInterval(() => {
      for (const pool of this.pools.values()) pool.closeIdle(performance.now() - IDLE_MS);
    }, IDLE_MS);
    this.sweeper.unref();
  }

  async send(request: WebhookRequest): Promise<WebhookResult> {
    const target = this.targetOf(request.url);
    if (target.kind === 'invalid') return { kind: 'error', message: 'invalid URL' };
    if (target.kind === 'refused') return { kind: 'refused', reason: target.reason };
    let head = target.requestHead;
    for (const name of Object.keys(request.headers)) {
      const value = request.headers[name];
      if (INVALID_HEADER_VALUE.test(value)) return { kind: 'error', message: `invalid value for header ${name}` };
      head += `${name}: ${value}\r\n`;
    }
    const message = `${head}content-length: ${Buffer.byteLength(request.body, 'utf8')}\r\n\r\n${request.body}`;

    const first = await this.attempt(target, message, request.timeoutMs, false);
    // A kept-alive connection the receiver closed just as we reused it: that says
    // nothing about the receiver, so try once more on a fresh connection.
    if (first.kind === 'error' && first.reusedSocket) return stripReused(await this.attempt(target, message, request.timeoutMs, true));
    return stripReused(first);
  }

  shutdownSteps(): ShutdownStep[] {
    return [
      {
        phase: ShutdownPhase.Connections,
        name: 'webhook connections',
        count: 1,
        close: async () => {
          this.closed = true;
          clearInterval(this.sweeper);
          for (const pool of this.pools.values()) pool.destroyAll();
          this.pools.clear();
        },
      },
    ];
  }

  /**
   * A URL parsed, its IP literal judged, and what its requests share (the
   * request line and fixed headers), kept per URL string: a drain sends every
   * request of a batch to the same URL. What is kept depends only on the
   * string and the policy (fixed for the process); a host name is still
   * resolved and judged when each new connection is opened (lookup).
   */
  private targetOf(rawUrl: string): Target {
    const cached = this.targets.get(rawUrl);
    if (cached) return cached;
    const target = parseTarget(rawUrl, this.policy);
    if (this.targets.size >= MAX_TARGETS) this.targets.delete(this.targets.keys().next().value!);
    this.targets.set(rawUrl, target);
    return target;
  }

  /** The socket's lookup: resolve once, refuse the name if any address is forbidden, connect only to what was checked. */
  private readonly lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    this.resolver.resolve(hostname).then(
      (addresses) => {
        for (const { address } of addresses) {
          const parsed = parseAddress(address);
          const problem = parsed ? addressProblem(parsed, this.policy) : 'not an IP address';
          if (problem) {
            callback(new DestinationRefusedError(`${hostname} resolves to ${address}, ${problem}`), '');
            return;
          }
        }
        const usable = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
        if (usable.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no usable address`), { code: 'ENOTFOUND' }), '');
          return;
        }
        if (options.all)
          callback(
            null,
            usable.map((a: ResolvedAddress): LookupAddress => ({ address: a.address, family: a.family })),
          );
        else callback(null, usable[0].address, usable[0].family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };

  /** One request on a free connection to the target's origin (a new one when `fresh`, or none is free). */
  private attempt(target: SendableTarget, message: string, timeoutMs: number, fresh: boolean): Promise<AttemptResult> {
    return new Promise((resolve) => {
      let settled = false;
      let conn: Connection | null = null;
      const finish = (result: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => {
        finish({ kind: 'timeout' });
        if (conn) conn.destroy();
        else pool.cancel(onConnection);
      }, timeoutMs);
      const pool = this.poolOf(target);
      const onConnection = (taken: Connection) => {
        conn = taken;
        const reused = taken.requests > 0;
        taken.start(message, timeoutMs, {
          head: (status, retryAfter) => finish({ kind: 'response', status, retryAfter }),
          failed: (error) => {
            if (error instanceof DestinationRefusedError) finish({ kind: 'refused', reason: error.message });
            else
              finish({
                kind: 'error',
                message: error.code ? `${error.code}: ${error.message}` : error.message,
                reusedSocket: reused && !taken.answered,
              });
          },
        });
      };
      if (this.closed) finish({ kind: 'error', message: 'the webhook sender is closed' });
      else pool.acquire(onConnection, fresh);
    });
  }

  private poolOf(target: SendableTarget): Pool {
    let pool = this.pools.get(target.origin);
    if (!pool) {
      pool = new Pool(() =>
        target.secure
          ? tls
              .connect({
                host: target.hostname,
                port: target.port,
                servername: net.isIP(target.hostname) ? undefined : target.hostname,
                lookup: this.lookup,
              })
              .setNoDelay(true)
              .setKeepAlive(true, 1000)
          : net.connect({
              host: target.hostname,
              port: target.port,
              lookup: this.lookup,
              noDelay: true,
              keepAlive: true,
              keepAliveInitialDelay: 1000,
            }),
      );
      this.pools.set(target.origin, pool);
    }
    return pool;
  }
}

interface Exchange {
  /** The final response head arrived. */
  head(status: number, retryAfter: string | null): void;
  /** The connection failed before the head arrived. */
  failed(error: NodeJS.ErrnoException): void;
}

/** One kept-alive connection: one request at a time, its answer read by Http1Response. */
class Connection {
  /** Requests it was given. */
  requests = 0;
  /** A byte of the current request's answer arrived. */
  answered = false;
  idleSince = 0;
  private exchange: Exchange | null = null;
  private response: Http1Response | null = null;
  private error: NodeJS.ErrnoException | null = null;
  private timer: NodeJS.Timeout | null = null;
  private bodyTimeoutMs = 0;
  private gone = false;

  constructor(
    readonly socket: net.Socket,
    private readonly pool: Pool,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => (this.error ??= error));
    socket.on('close', () => this.onClose());
  }

  get alive(): boolean {
    return !this.gone;
  }

  /** Sends one request; once its head arrived, the rest of the answer gets `bodyTimeoutMs`, or the connection is closed. */
  start(message: string, bodyTimeoutMs: number, exchange: Exchange): void {
    this.requests++;
    this.answered = false;
    this.bodyTimeoutMs = bodyTimeoutMs;
    this.exchange = exchange;
    this.response = new Http1Response();
    this.socket.write(message, 'utf8');
  }

  destroy(): void {
    this.socket.destroy();
    this.onClose();
  }

  private onData(chunk: Buffer): void {
    const response = this.response;
    if (!response || response.done) {
      // Bytes nobody asked for: the connection cannot be trusted with another request.
      this.destroy();
      return;
    }
    this.answered = true;
    const hadHead = response.head !== null;
    let rest: Buffer | null;
    try {
      rest = response.feed(chunk);
    } catch (error) {
      this.error = error as NodeJS.ErrnoException;
      this.destroy();
      return;
    }
    if (!hadHead && response.head) {
      this.exchange?.head(response.head.status, response.head.retryAfter);
      // A receiver that never ends the body loses the connection.
      if (!response.done) this.timer = setTimeout(() => this.destroy(), this.bodyTimeoutMs);
    }
    if (!response.done) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.exchange = null;
    if (rest!.length > 0 || !response.keepAlive) this.destroy();
    else this.pool.release(this);
  }

  private onClose(): void {
    if (this.gone) return;
    this.gone = true;
    if (this.timer) clearTimeout(this.timer);
    const exchange = this.exchange;
    this.exchange = null;
    // The head arrived: the request was answered, whatever became of the body (a body running to the close ends here).
    if (exchange && !this.response?.head) {
      exchange.failed(this.error ?? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    }
    this.pool.closed(this);
  }
}

/** The connections to one origin: free ones reused newest first, at most MAX_SOCKETS, requests beyond wait. */
class Pool {
  private readonly free: Connection[] = [];
  private readonly waiting: Array<(conn: Connection) => void> = [];
  private open = 0;

  constructor(private readonly connect: () => net.Socket) {}

  /** Hands `use` a connection: a free one (unless `fresh`), a new one, or the next released. */
  acquire(use: (conn: Connection) => void, fresh: boolean): void {
    if (!fresh) {
      const now = performance.now();
      for (let conn = this.free.pop(); conn; conn = this.free.pop()) {
        if (!conn.alive) continue;
        if (now - conn.idleSince > IDLE_MS) {
          conn.destroy();
          continue;
        }
        conn.socket.ref();
        use(conn);
        return;
      }
    }
    if (this.open >= MAX_SOCKETS) {
      this.waiting.push(use);
      return;
    }
    this.open++;
    use(new Connection(this.connect(), this));
  }

  /** A request gave up waiting (its timeout). */
  cancel(use: (conn: Connection) => void): void {
    const at = this.waiting.indexOf(use);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  release(conn: Connection): void {
    const next = this.waiting.shift();
    if (next) {
      next(conn);
      return;
    }
    conn.idleSince = performance.now();
    // A free connection does not keep the process alive (as node:http's agent).
    conn.socket.unref();
    this.free.push(conn);
  }

  closed(conn: Connection): void {
    this.open--;
    const at = this.free.indexOf(conn);
    if (at >= 0) this.free.splice(at, 1);
    const next = this.waiting.shift();
    if (next) {
      this.open++;
      next(new Connection(this.connect(), this));
    }
  }

  /** Closes the free connections unused since `before`. */
  closeIdle(before: number): void {
    for (const conn of this.free.filter((c) => c.idleSince < before)) conn.destroy();
  }

  destroyAll(): void {
    this.waiting.length = 0;
    for (const conn of [...this.free]) conn.destroy();
    this.free.length = 0;
  }
}

/** URLs whose target is kept at most (a gateway has one URL; the notification webhook one more). */
const MAX_TARGETS = 1024;

interface SendableTarget {
  kind: 'send';
  secure: boolean;
  /** Scheme, host and port: what a connection is kept for. */
  origin: string;
  /** The host to connect to (an IPv6 literal without its brackets). */
  hostname: string;
  port: number;
  /** The request line and the headers every request to this URL carries. */
  requestHead: string;
}

type Target = SendableTarget | { kind: 'invalid' } | { kind: 'refused'; reason: string };

function parseTarget(rawUrl: string, policy: AddressPolicy): Target {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { kind: 'invalid' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { kind: 'invalid' };
  // A socket given an IP literal never calls lookup: check it here.
  const literal = parseAddress(url.hostname);
  const problem = literal && addressProblem(literal, policy);
  if (problem) return { kind: 'refused', reason: `${url.hostname} is ${problem}` };
  const secure = url.protocol === 'https:';
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  // Basic credentials from the URL's user info, as node:http sends them from a URL.
  const authorization =
    url.username || url.password
      ? `authorization: Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}\r\n`
      : '';
  return {
    kind: 'send',
    secure,
    origin: `${url.protocol}//${url.host}`,
    hostname,
    port,
    requestHead:
      `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n${authorization}` +
      `content-type: application/json\r\nuser-agent: ${USER_AGENT}\r\nconnection: keep-alive\r\n`,
  };
}

function stripReused(result: AttemptResult): WebhookResult {
  if (result.kind !== 'error') return result;
  return { kind: 'error', message: result.message };
}
