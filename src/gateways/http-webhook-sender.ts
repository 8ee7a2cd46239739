import http from 'node:http';
import https from 'node:https';
import { Injectable } from '@nestjs/common';
import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../common/shutdown/shutdown-step';
import { WebhookRequest, WebhookResult, WebhookSender } from './webhook-sender';

const USER_AGENT = 'agent-credentials-webhooks/1';

/**
 * WebhookSender over node:http(s) with keep-alive connections. node:http
 * never follows redirects, so a 3xx comes back as an answer (and counts as a
 * failure). The timeout covers connecting, sending and the response headers.
 */
@Injectable()
export class HttpWebhookSender extends WebhookSender implements ShutdownParticipant {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 256 });

  async send(request: WebhookRequest): Promise<WebhookResult> {
    const first = await this.attempt(request);
    // A kept-alive socket the receiver closed just as we reused it: that says
    // nothing about the receiver, so try once more on a fresh connection.
    if (first.kind === 'error' && first.reusedSocket) return this.attempt(request);
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

  private attempt(request: WebhookRequest): Promise<WebhookResult & { reusedSocket?: boolean }> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: WebhookResult & { reusedSocket?: boolean }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        resolve({ kind: 'error', message: 'invalid URL' });
        return;
      }
      const secure = url.protocol === 'https:';
      const body = Buffer.from(request.body, 'utf8');
      const req = (secure ? https : http).request(
        url,
        {
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: {
            ...request.headers,
            'content-type': 'application/json',
            'content-length': String(body.length),
            'user-agent': USER_AGENT,
          },
        },
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
      req.on('error', (error: NodeJS.ErrnoException) =>
        finish({ kind: 'error', message: error.code ? `${error.code}: ${error.message}` : error.message, reusedSocket: req.reusedSocket }),
      );
      req.end(body);
    });
  }
}

function stripReused(result: WebhookResult & { reusedSocket?: boolean }): WebhookResult {
  if (result.kind !== 'error') return result;
  return { kind: 'error', message: result.message };
}
