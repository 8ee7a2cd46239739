import { connect, createServer, Server, Socket } from 'node:net';
import { AddressInfo } from 'node:net';

/**
 * A TCP proxy in front of a real server that can freeze: it stops passing
 * bytes either way but keeps every connection open, as a server that hangs
 * or a network that drops packets does (no RST, so clients wait). For tests
 * that need Postgres to stop answering without stopping the shared one.
 */
export class FrozenProxy {
  private frozen = false;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async start(targetHost: string, targetPort: number): Promise<FrozenProxy> {
    let self: FrozenProxy | null = null;
    const server = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      for (const socket of [client, upstream]) {
        self!.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => self!.sockets.delete(socket));
      }
      client.on('data', (chunk) => !self!.frozen && upstream.write(chunk));
      upstream.on('data', (chunk) => !self!.frozen && client.write(chunk));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    self = new FrozenProxy(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  freeze(): void {
    this.frozen = true;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
