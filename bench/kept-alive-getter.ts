import { connect, Socket } from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * The steady loads' HTTP client: GETs over kept-alive HTTP/1.1 connections,
 * one request at a time per connection, reading the status line and a body of
 * exactly Content-Length bytes.
 *
 * Why not a library client: the load generator shares this machine's two
 * cores with the service, so every millisecond of CPU it spends is taken from
 * what it measures. Per GET at 200/s, on this machine: fetch 1.2 ms,
 * undici's Pool 0.7 ms, node:http 0.5 ms, this 0.1-0.2 ms (the service itself
 * spends about 0.9 ms answering). Anything it does not understand (no
 * Content-Length, a chunked body, bytes after the body, a closed connection)
 * fails the request rather than guessing, and a failed request fails the run.
 */
export class KeptAliveGetter {
  private readonly idle = new Set<Socket>();
  private readonly all = new Set<Socket>();
  private readonly host: string;
  private readonly port: number;
  private readonly head: string;

  constructor(baseUrl: string, headers: Record<string, string> = {}) {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:') throw new Error(`only http: is supported, not ${url.protocol}`);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
    this.head = Object.entries({ host: url.host, ...headers })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
  }

  /** GETs `path` and resolves with the status code once the whole body has arrived. */
  async get(path: string): Promise<number> {
    const socket = this.takeIdle() ?? (await this.open());
    return new Promise<number>((resolve, reject) => {
      let buffered: Buffer | null = null;
      const finish = (error: Error | null, status = 0, keep = false) => {
        socket.off('data', onData);
        socket.off('close', onClose);
        socket.off('error', onClose);
        if (keep) this.idle.add(socket);
        else socket.destroy();
        if (error) reject(error);
        else resolve(status);
      };
      const onClose = (error?: Error) => finish(error ?? new Error('connection closed before the response was complete'));
      const onData = (chunk: Buffer) => {
        buffered = buffered ? Buffer.concat([buffered, chunk]) : chunk;
        const end = buffered.indexOf(HEADER_END);
        if (end < 0) return;
        const header = buffered.toString('latin1', 0, end);
        const status = /^HTTP\/1\.1 (\d{3}) /.exec(header);
        const length = /\r\ncontent-length: *(\d+)\r?$/im.exec(header);
        if (!status || !length) return finish(new Error(`cannot read this response head: ${JSON.stringify(header.slice(0, 200))}`));
        const total = end + HEADER_END.length + Number(length[1]);
        if (buffered.length < total) return;
        if (buffered.length > total) return finish(new Error('bytes after the response body'));
        finish(null, Number(status[1]), !/\r\nconnection: *close\r?$/im.test(header));
      };
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.once('error', onClose);
      socket.write(`GET ${path} HTTP/1.1\r\n${this.head}\r\n`);
    });
  }

  close(): void {
    for (const socket of this.all) socket.destroy();
  }

  private takeIdle(): Socket | undefined {
    for (const socket of this.idle) {
      this.idle.delete(socket);
      if (!socket.destroyed) return socket;
    }
    return undefined;
  }

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, this.host, () => {
        socket.off('error', reject);
        socket.on('error', () => undefined); // an idle connection's error is followed by its close
        resolve(socket);
      });
      socket.setNoDelay(true);
      socket.once('error', reject);
      this.all.add(socket);
      // An idle connection the server closes is dropped from the pool.
      socket.on('close', () => {
        this.idle.delete(socket);
        this.all.delete(socket);
      });
    });
  }
}
