import type { LookupAddress, LookupOptions } from 'node:dns';

import { Injectable } from '@nestjs/common';
import { Agent, buildConnector, Client, Dispatcher, errors } from 'undici';

import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../common/shutdown/shutdown-step';
import { AppConfig } from '../config/app-config';
import { AddressPolicy, addressProblem, parseAddress } from './gateway-address';
import { HostResolver, ResolvedAddress } from './host-resolver';
import { WebhookRequest, WebhookResult, WebhookSender } from './webhook-sender';

const USER_AGENT = 'agent-credentials-webhooks/1';
/** Connections open to one origin at most; a request beyond waits for one to be free. */
const MAX_SOCKETS = 256;
/**
 * A kept-alive connection unused this long is closed rather than reused: servers close idle connections
 * (Node's default after 5 s), and one closed just as a request goes out costs that request a retry.
 */
const IDLE_MS = 4_000;
/** What node:http refuses in a header value (undici refuses it too, but by throwing). */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** The URL's host is, or resolves to, an address webhooks may not go to. */
class DestinationRefusedError extends Error {
  readonly code = 'EDESTINATIONREFUSED';
}

type AttemptResult = WebhookResult & { reusedSocket?: boolean };

/**
 * WebhookSender over undici (Node's own HTTP/1.1 client, the engine of its
 * fetch): an Agent keeps a pool of kept-alive connections per origin, at most
 * MAX_SOCKETS, one request at a time on each, and parses answers with llhttp.
 * A request is dispatched with a handler that takes the outcome at the
 * response head and discards the body, so the connection can carry the next
 * one. undici never follows redirects here (no interceptor), so a 3xx comes
 * back as an answer (and counts as a failure). The timeout covers waiting for
 * a connection, resolving, connecting, sending and the response head; undici
 * closes a connection whose head is not there by as long after the request was
 * written, or whose body pauses that long. TLS is node:tls (undici's
 * connector) with its defaults: the certificate is verified against the URL's
 * host name.
 *
 * Where a webhook may go is checked on the address actually connected to: an
 * IP literal before connecting, a name inside the socket's lookup (handed to
 * net/tls.connect through undici's connector), which resolves once through
 * HostResolver, refuses the name if any address is forbidden
 * (gateway-address.ts), and hands the socket exactly the checked addresses.
 * No second resolution happens, so a DNS answer that changes between check
 * and connect (rebinding) cannot slip through. A kept-alive connection was
 * checked when it was opened.
 */
@Injectable()
export class HttpWebhookSender extends WebhookSender implements ShutdownParticipant {
  private readonly policy: AddressPolicy;
  /** Targets by URL string (targetOf), the oldest dropped beyond MAX_TARGETS. */
  private readonly targets = new Map<string, Target>();
  /** Errors of connections that had already read an answer when they failed (a kept-alive connection dropped). */
  private readonly droppedAfterUse = new WeakSet<Error>();
  private readonly connect: buildConnector.connector;
  private readonly agent: Agent;
  private closed = false;

  constructor(
    private readonly resolver: HostResolver,
    config: AppConfig,
  ) {
    super();
    this.policy = { allowPrivateNetworks: config.gateways.allowPrivateNetworks, allowLoopback: config.gateways.allowLoopback };
    const connector = buildConnector({ lookup: this.lookup, keepAlive: true, keepAliveInitialDelay: 1_000 } as buildConnector.BuildOptions);
    this.connect = (options, callback) =>
      connector(options, (...result) => {
        const socket = result[1];
        // Bytes read before a failure: the connection had carried an answer, so it was a kept-alive one reused
        // (a failure after this request's own answer started is told apart by the handler's `answered`).
        socket?.prependListener('error', (failure: Error) => {
          if (socket.bytesRead > 0) this.droppedAfterUse.add(failure);
        });
        callback(...result);
      });
    this.agent = new Agent({
      connect: this.connect,
      connections: MAX_SOCKETS,
      pipelining: 1,
      keepAliveTimeout: IDLE_MS,
      keepAliveMaxTimeout: IDLE_MS,
    });
  }

  async send(request: WebhookRequest): Promise<WebhookResult> {
    const target = this.targetOf(request.url);
    if (target.kind === 'invalid') return { kind: 'error', message: 'invalid URL' };
    if (target.kind === 'refused') return { kind: 'refused', reason: target.reason };
    const headers = target.headers.slice();
    for (const name of Object.keys(request.headers)) {
      const value = request.headers[name];
      if (INVALID_HEADER_VALUE.test(value)) return { kind: 'error', message: `invalid value for header ${name}` };
      headers.push(name, value);
    }
    const options: Dispatcher.DispatchOptions = {
      origin: target.origin,
      path: target.path,
      method: 'POST',
      headers,
      body: request.body,
      headersTimeout: request.timeoutMs,
      bodyTimeout: request.timeoutMs,
    };

    const first = await this.attempt(this.agent, options, request.timeoutMs);
    // A kept-alive connection the receiver closed just as we reused it: that says
    // nothing about the receiver, so try once more on a fresh connection of its own.
    if (first.kind === 'error' && first.reusedSocket) {
      const fresh = new Client(target.origin, { connect: this.connect, pipelining: 1 });
      const second = this.attempt(fresh, options, request.timeoutMs);
      // Closes once the request is done (its body read or aborted).
      void fresh.close();
      return stripReused(await second);
    }
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
          await this.agent.destroy();
        },
      },
    ];
  }

  /**
   * A URL parsed, its IP literal judged, and what its requests share (origin,
   * path and fixed headers), kept per URL string: a drain sends every request
   * of a batch to the same URL. What is kept depends only on the string and
   * the policy (fixed for the process); a host name is still resolved and
   * judged when each new connection is opened (lookup).
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

  /**
   * One request through `dispatcher`: the outcome is the response head; the body is read and dropped. undici frees
   * a connection for the next request one event-loop turn after its answer ended (undici's HTTP/1.1 client resumes on setImmediate), so an
   * answer whose body ended with its head is handed back just after that turn, and the caller's next request finds
   * the connection free instead of opening another; one whose body is still coming is handed back at once.
   */
  private attempt(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, timeoutMs: number): Promise<AttemptResult> {
    return new Promise((resolve) => {
      let settled = false;
      /** A byte of this request's answer arrived. */
      let answered = false;
      /** The answer ended, or the request failed. */
      let done = false;
      let head: AttemptResult | null = null;
      const finish = (result: AttemptResult) => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      const handOver = () => {
        if (done) setImmediate(() => finish(head!));
        else finish(head!);
      };
      // The caller's deadline. The connection of a request already written is closed by undici's own timers
      // (DispatchOptions: its head by timeoutMs after writing, each read of its body by timeoutMs), which fail the
      // request; one aborted here would be dropped but make its client connect again for nothing (undici
      // re-queues it before dropping it). A request not yet on a connection is aborted when it gets one.
      const timer = setTimeout(() => {
        if (!head) finish({ kind: 'timeout' });
      }, timeoutMs);
      if (this.closed) {
        clearTimeout(timer);
        finish({ kind: 'error', message: 'the webhook sender is closed' });
        return;
      }
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (controller) => {
          if (settled) controller.abort(new errors.RequestAbortedError());
        },
        onResponseStarted: () => {
          answered = true;
        },
        onResponseStart: (_controller, status, headers) => {
          if (status < 200) return;
          const retryAfter = headers['retry-after'];
          head = { kind: 'response', status, retryAfter: typeof retryAfter === 'string' ? retryAfter : (retryAfter?.[0] ?? null) };
          clearTimeout(timer);
          // After the rest of this read: the body may end in it.
          process.nextTick(handOver);
        },
        onResponseData: () => {},
        onResponseEnd: () => {
          done = true;
          clearTimeout(timer);
        },
        onResponseError: (_controller, error: NodeJS.ErrnoException) => {
          done = true;
          clearTimeout(timer);
          // After the head the request was answered, whatever became of its body.
          if (head) return;
          if (error instanceof DestinationRefusedError) finish({ kind: 'refused', reason: error.message });
          else
            finish({
              kind: 'error',
              message: error.code ? `${error.code}: ${error.message}` : error.message,
              reusedSocket: !answered && this.droppedAfterUse.has(error),
            });
        },
      };
      dispatcher.dispatch(options, handler);
    });
  }
}

/** URLs whose target is kept at most (a gateway has one URL; the notification webhook one more). */
const MAX_TARGETS = 1024;

interface SendableTarget {
  kind: 'send';
  /** Scheme, host and port: what connections are kept for. */
  origin: string;
  /** Path and query. */
  path: string;
  /** The headers every request to this URL carries, as name, value, name, value... (undici adds host and length). */
  headers: string[];
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
  const headers = ['content-type', 'application/json', 'user-agent', USER_AGENT];
  // Basic credentials from the URL's user info, as node:http sends them from a URL.
  if (url.username || url.password)
    headers.push(
      'authorization',
      `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`,
    );
  return { kind: 'send', origin: url.origin, path: `${url.pathname}${url.search}`, headers };
}

function stripReused(result: AttemptResult): WebhookResult {
  if (result.kind !== 'error') return result;
  return { kind: 'error', message: result.message };
}
