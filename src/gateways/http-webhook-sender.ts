import type { LookupAddress, LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';

import { Injectable } from '@nestjs/common';

import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../common/shutdown/shutdown-step';
import { AppConfig } from '../config/app-config';
import { AddressPolicy, addressProblem, parseAddress } from './gateway-address';
import { HostResolver, ResolvedAddress } from './host-resolver';
import { WebhookRequest, WebhookResult, WebhookSender } from './webhook-sender';

const USER_AGENT = 'agent-credentials-webhooks/1';

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** The URL's host is, or resolves to, an address webhooks may not go to. */
class DestinationRefusedError extends Error {
  readonly code = 'EDESTINATIONREFUSED';
}

/**
 * WebhookSender over node:http(s) with keep-alive connections. node:http
 * never follows redirects, so a 3xx comes back as an answer (and counts as a
 * failure). The timeout covers resolving, connecting, sending and the
 * response headers.
 *
 * Where a webhook may go is checked on the address actually connected to: an
 * IP literal before connecting, a name inside the socket's lookup, which
 * resolves once through HostResolver, refuses the name if any address is
 * forbidden (gateway-address.ts), and hands the socket exactly the checked
 * addresses. No second resolution happens, so a DNS answer that changes
 * between check and connect (rebinding) cannot slip through. A kept-alive
 * socket was checked when it was opened.
 */
@Injectable()
export class HttpWebhookSender extends WebhookSender implements ShutdownParticipant {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly policy: AddressPolicy;
  /** Targets by URL string (targetOf), the oldest dropped beyond MAX_TARGETS. */
  private readonly targets = new Map<string, Target>();

  constructor(
    private readonly resolver: HostResolver,
    config: AppConfig,
  ) {
    super();
    this.policy = { allowPrivateNetworks: config.gateways.allowPrivateNetworks, allowLoopback: config.gateways.allowLoopback };
  }

  async send(request: WebhookRequest): Promise<WebhookResult> {
    const target = this.targetOf(request.url);
    if (target.kind === 'invalid') return { kind: 'error', message: 'invalid URL' };
    if (target.kind === 'refused') return { kind: 'refused', reason: target.reason };

    const first = await this.attempt(target, request);
    // A kept-alive socket the receiver closed just as we reused it: that says
    // nothing about the receiver, so try once more on a fresh connection.
    if (first.kind === 'error' && first.reusedSocket) return this.attempt(target, request);
    return stripReused(first);
  }

  shutdownSteps(): ShutdownStep[] {
    return [
      {
        phase: ShutdownPhase.Connections,
        name: 'webhook connections',
        count: 1,
        close: async () => {
          this.httpAgent.destroy();
          this.httpsAgent.destroy();
        },
      },
    ];
  }

  /**
   * A URL parsed, its IP literal judged, and the request options that do not
   * change between its requests, kept per URL string: a drain sends every
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

  private attempt(target: SendableTarget, request: WebhookRequest): Promise<WebhookResult & { reusedSocket?: boolean }> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: WebhookResult & { reusedSocket?: boolean }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      // Headers as a flat list: node:http writes them in one pass (checking each name and value) instead of a
      // setHeader per header; with a list it adds neither Host nor the URL's user info of its own, so both are here.
      const headers: string[] = ['host', target.host];
      if (target.authorization) headers.push('authorization', target.authorization);
      for (const name of Object.keys(request.headers)) headers.push(name, request.headers[name]);
      headers.push(
        'content-type',
        'application/json',
        'content-length',
        String(Buffer.byteLength(request.body, 'utf8')),
        'user-agent',
        USER_AGENT,
      );
      const req = (target.secure ? https : http).request(
        target.url,
        { method: 'POST', agent: target.secure ? this.httpsAgent : this.httpAgent, lookup: this.lookup, headers },
        (res) => {
          const retryAfter = res.headers['retry-after'];
          finish({ kind: 'response', status: res.statusCode ?? 0, retryAfter: typeof retryAfter === 'string' ? retryAfter : null });
          // Drain the body so the connection can be reused; a receiver that never ends it loses the socket.
          res.resume();
          res.setTimeout(request.timeoutMs, () => res.destroy());
        },
      );
      const timer = setTimeout(() => {
        finish({ kind: 'timeout' });
        req.destroy();
      }, request.timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error instanceof DestinationRefusedError) finish({ kind: 'refused', reason: error.message });
        else
          finish({
            kind: 'error',
            message: error.code ? `${error.code}: ${error.message}` : error.message,
            reusedSocket: req.reusedSocket,
          });
      });
      // The body as a string: node:http sends it in the same write as the headers (a Buffer goes out in a second
      // write), which halved the sender's CPU per request (docs/delivery.md, "What a delivery costs").
      req.end(request.body, 'utf8');
    });
  }
}

/** URLs whose target is kept at most (a gateway has one URL; the notification webhook one more). */
const MAX_TARGETS = 1024;

interface SendableTarget {
  kind: 'send';
  url: URL;
  secure: boolean;
  /** The Host header, as node:http would write it from the URL. */
  host: string;
  /** Basic credentials from the URL's user info (as node:http sends them from a URL), or null. */
  authorization: string | null;
}

type Target = SendableTarget | { kind: 'invalid' } | { kind: 'refused'; reason: string };

function parseTarget(rawUrl: string, policy: AddressPolicy): Target {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { kind: 'invalid' };
  }
  // A socket given an IP literal never calls lookup: check it here.
  const literal = parseAddress(url.hostname);
  const problem = literal && addressProblem(literal, policy);
  if (problem) return { kind: 'refused', reason: `${url.hostname} is ${problem}` };
  const authorization =
    url.username || url.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
      : null;
  return { kind: 'send', url, secure: url.protocol === 'https:', host: url.host, authorization };
}

function stripReused(result: WebhookResult & { reusedSocket?: boolean }): WebhookResult {
  if (result.kind !== 'error') return result;
  return { kind: 'error', message: result.message };
}
