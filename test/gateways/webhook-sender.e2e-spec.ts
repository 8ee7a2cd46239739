import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

import type { AppConfig } from '../../src/config/app-config';
import { HostResolver, ResolvedAddress } from '../../src/gateways/host-resolver';
import { HttpWebhookSender } from '../../src/gateways/http-webhook-sender';
import type { WebhookRequest } from '../../src/gateways/webhook-sender';

/**
 * The webhook sender against real local servers, without the app: it sends
 * through undici with a handler of its own (src/gateways/http-webhook-sender.ts),
 * so what node:http's client did for it is checked here: keep-alive reuse across every
 * kind of body framing, one retry on a kept-alive connection the receiver
 * dropped, timeouts, receivers that misbehave, TLS with certificate checks,
 * the request line and headers. Destinations refused by address are in
 * destinations.e2e-spec.ts.
 */
class LoopbackResolver extends HostResolver {
  async resolve(): Promise<ResolvedAddress[]> {
    return [{ address: '127.0.0.1', family: 4 }];
  }
}

const CONFIG = { gateways: { allowPrivateNetworks: true, allowLoopback: true, urlAllowlist: null } } as unknown as AppConfig;

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

function closeServer(server: net.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('HttpWebhookSender', () => {
  let sender: HttpWebhookSender;
  const servers: net.Server[] = [];

  const request = (url: string, body = '{"type":"test"}', timeoutMs = 2_000): WebhookRequest => ({
    url,
    headers: { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,abc=' },
    body,
    timeoutMs,
  });

  beforeEach(() => {
    sender = new HttpWebhookSender(new LoopbackResolver(), CONFIG);
  });

  afterEach(async () => {
    await sender.shutdownSteps()[0].close();
    await Promise.all(servers.splice(0).map(closeServer));
  });

  async function httpServer(handler: http.RequestListener): Promise<{ url: string; connections: () => number }> {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 60_000;
    let connections = 0;
    server.on('connection', () => connections++);
    servers.push(server);
    const port = await listen(server);
    return { url: `http://127.0.0.1:${port}/events?x=1`, connections: () => connections };
  }

  it('sends the request line, headers and body as node:http did, and reuses one connection across every body framing', async () => {
    const seen: Array<{ method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }> = [];
    let n = 0;
    const { url, connections } = await httpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        switch (n++ % 4) {
          case 0:
            res.writeHead(204).end();
            break;
          case 1:
            res.writeHead(200, { 'content-length': '5' }).end('hello');
            break;
          case 2:
            // No length: node:http chunks it.
            res.writeHead(503, { 'retry-after': '3' });
            res.write('busy, ');
            res.end('try later');
            break;
          default:
            res.writeHead(301, { location: '/elsewhere' }).end();
        }
      });
    });
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await sender.send(request(url, `{"n":${i},"text":"é ✓"}`)));
    expect(results.slice(0, 4)).toEqual([
      { kind: 'response', status: 204, retryAfter: null },
      { kind: 'response', status: 200, retryAfter: null },
      { kind: 'response', status: 503, retryAfter: '3' },
      { kind: 'response', status: 301, retryAfter: null },
    ]);
    expect(results.slice(4)).toEqual([...results.slice(0, 4), ...results.slice(0, 4)]);
    expect(connections()).toBe(1);
    const port = new URL(url).port;
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: '/events?x=1',
      body: '{"n":0,"text":"é ✓"}',
      headers: {
        host: `127.0.0.1:${port}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength('{"n":0,"text":"é ✓"}')),
        'user-agent': 'agent-credentials-webhooks/1',
        'webhook-id': 'msg_1',
        'webhook-timestamp': '1700000000',
        'webhook-signature': 'v1,abc=',
      },
    });
  });

  it('sends the URL user info as basic credentials', async () => {
    let authorization: string | undefined;
    const { url } = await httpServer((req, res) => {
      authorization = req.headers.authorization;
      req.resume();
      res.writeHead(204).end();
    });
    const withUser = url.replace('http://', 'http://us%40er:p%3Ass@');
    expect(await sender.send(request(withUser))).toEqual({ kind: 'response', status: 204, retryAfter: null });
    expect(authorization).toBe(`Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
  });

  it('keeps requests in flight on connections of their own, and reuses them afterwards', async () => {
    const { url, connections } = await httpServer((req, res) => {
      req.resume();
      setTimeout(() => res.writeHead(204).end(), 30);
    });
    const first = await Promise.all(Array.from({ length: 8 }, () => sender.send(request(url))));
    const second = await Promise.all(Array.from({ length: 8 }, () => sender.send(request(url))));
    expect([...first, ...second].every((r) => r.kind === 'response' && r.status === 204)).toBe(true);
    expect(connections()).toBe(8);
  });

  it('sends again, once, on a fresh connection when a kept-alive one is dropped before answering', async () => {
    // Answers the first request of each connection, keeps it alive, and drops it at the second.
    let received = 0;
    const server = net.createServer((socket) => {
      let requests = 0;
      socket.on('data', () => {
        received++;
        if (++requests === 1) socket.write('HTTP/1.1 204 No Content\r\n\r\n');
        else socket.destroy();
      });
    });
    servers.push(server);
    const url = `http://127.0.0.1:${await listen(server)}/`;
    expect(await sender.send(request(url))).toEqual({ kind: 'response', status: 204, retryAfter: null });
    expect(await sender.send(request(url))).toEqual({ kind: 'response', status: 204, retryAfter: null });
    expect(received).toBe(3);
  });

  it('does not send again when a fresh connection is dropped before answering', async () => {
    let received = 0;
    const server = net.createServer((socket) => socket.on('data', () => (received++, socket.destroy())));
    servers.push(server);
    const url = `http://127.0.0.1:${await listen(server)}/`;
    expect(await sender.send(request(url))).toEqual({ kind: 'error', message: 'UND_ERR_SOCKET: other side closed' });
    expect(received).toBe(1);
  });

  it('times out a receiver that does not answer, and does not reuse its connection', async () => {
    const { url, connections } = await httpServer((req, res) => {
      req.resume();
      if (req.headers['webhook-id'] === 'slow') return; // never answered
      res.writeHead(204).end();
    });
    const started = performance.now();
    expect(await sender.send({ ...request(url, '{}', 300), headers: { 'webhook-id': 'slow' } })).toEqual({ kind: 'timeout' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(await sender.send(request(url))).toEqual({ kind: 'response', status: 204, retryAfter: null });
    expect(connections()).toBe(2);
  });

  it('answers at the head; a body that never ends costs the connection, not the next request', async () => {
    let connection = 0;
    const server = net.createServer((socket) => {
      const mine = ++connection;
      socket.on('data', () =>
        socket.write(mine === 1 ? 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..' : 'HTTP/1.1 202 OK\r\n\r\n'),
      );
    });
    servers.push(server);
    const url = `http://127.0.0.1:${await listen(server)}/`;
    expect(await sender.send(request(url, '{}', 200))).toEqual({ kind: 'response', status: 200, retryAfter: null });
    // The first connection is still busy with its body: the next request opens another, whose answer runs to the close.
    expect(await sender.send(request(url, '{}', 200))).toEqual({ kind: 'response', status: 202, retryAfter: null });
    expect(connection).toBe(2);
  });

  it('fails on an answer that is not HTTP/1.x', async () => {
    const server = net.createServer((socket) => socket.on('data', () => socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n')));
    servers.push(server);
    const url = `http://127.0.0.1:${await listen(server)}/`;
    expect(await sender.send(request(url))).toEqual({
      kind: 'error',
      message: 'Response does not match the HTTP/1.1 protocol (Expected HTTP/, RTSP/ or ICE/)',
    });
  });

  it('fails on a refused connection, naming it', async () => {
    const server = net.createServer();
    const port = await listen(server);
    await closeServer(server);
    const result = await sender.send(request(`http://127.0.0.1:${port}/`));
    expect(result).toMatchObject({ kind: 'error', message: expect.stringMatching(/^ECONNREFUSED: /) });
  });

  it('refuses to send a header value that would split the request', async () => {
    const { url, connections } = await httpServer((_req, res) => res.writeHead(204).end());
    const result = await sender.send({ ...request(url), headers: { 'webhook-id': 'a\r\nx-injected: 1' } });
    expect(result).toEqual({ kind: 'error', message: 'invalid value for header webhook-id' });
    expect(connections()).toBe(0);
  });

  describe('over TLS', () => {
    let dir: string;
    let key: Buffer;
    let cert: Buffer;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'webhook-tls-'));
      execFileSync('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=gateway.test',
        '-addext',
        'subjectAltName=DNS:gateway.test',
      ]);
      key = readFileSync(join(dir, 'key.pem'));
      cert = readFileSync(join(dir, 'cert.pem'));
    });

    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    async function httpsServer(): Promise<{ port: number; received: () => number; servernames: string[] }> {
      let received = 0;
      const servernames: string[] = [];
      const server = https.createServer({ key, cert }, (req, res) => {
        received++;
        req.resume();
        res.writeHead(204).end();
      });
      server.on('secureConnection', (socket: { servername?: string | false }) => servernames.push(String(socket.servername)));
      servers.push(server);
      return { port: await listen(server), received: () => received, servernames };
    }

    it('refuses a certificate no authority vouches for, sending nothing', async () => {
      const { port, received } = await httpsServer();
      const result = await sender.send(request(`https://gateway.test:${port}/events`));
      expect(result).toMatchObject({ kind: 'error', message: expect.stringMatching(/SELF_SIGNED_CERT|self-signed certificate/) });
      expect(received()).toBe(0);
    });

    it('sends over TLS, naming the host (SNI), on one kept-alive connection', async () => {
      const { port, received, servernames } = await httpsServer();
      // The test certificate is trusted as an authority for this case only; the host name is still checked against it.
      const connect = tls.connect.bind(tls);
      const trusting = jest
        .spyOn(tls, 'connect')
        .mockImplementation(((options: tls.ConnectionOptions) => connect({ ...options, ca: [cert] })) as typeof tls.connect);
      try {
        for (let i = 0; i < 3; i++) {
          expect(await sender.send(request(`https://gateway.test:${port}/events`))).toEqual({
            kind: 'response',
            status: 204,
            retryAfter: null,
          });
        }
      } finally {
        trusting.mockRestore();
      }
      expect(received()).toBe(3);
      expect(servernames).toEqual(['gateway.test']);
    });

    it('refuses a trusted certificate issued for another host', async () => {
      const { port, received } = await httpsServer();
      const connect = tls.connect.bind(tls);
      const trusting = jest
        .spyOn(tls, 'connect')
        .mockImplementation(((options: tls.ConnectionOptions) => connect({ ...options, ca: [cert] })) as typeof tls.connect);
      try {
        const result = await sender.send(request(`https://other.test:${port}/events`));
        expect(result).toMatchObject({ kind: 'error', message: expect.stringMatching(/ERR_TLS_CERT_ALTNAME_INVALID/) });
      } finally {
        trusting.mockRestore();
      }
      expect(received()).toBe(0);
    });
  });
});
