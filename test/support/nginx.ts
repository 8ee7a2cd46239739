import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The example configuration the README shows: the test renders this very file. */
export const NGINX_TEMPLATE = path.join(__dirname, '..', '..', 'examples', 'nginx', 'nginx.conf.template');

const NGINX_BINARIES = ['/usr/sbin/nginx', '/usr/bin/nginx'];

export function nginxBinary(): string {
  const found = NGINX_BINARIES.find((p) => existsSync(p));
  if (!found) throw new Error('nginx is not installed: apt-get install -y nginx (.ci/run installs it when missing)');
  return found;
}

/** A port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface NginxSettings {
  /** host:port of the agent credentials service. */
  authz: string;
  gatewayToken: string;
  /** host:port of the protected API. */
  upstream: string;
}

/** Fills in the template's {{PLACEHOLDERS}} outside comments; a placeholder left over is an error. */
export function renderNginxConfig(template: string, values: Record<string, string>): string {
  return template
    .split('\n')
    .map((line) =>
      line.trimStart().startsWith('#')
        ? line
        : line.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
            if (!(name in values)) throw new Error(`nginx template: no value for {{${name}}}`);
            return values[name];
          }),
    )
    .join('\n');
}

/**
 * nginx run by the test itself (not the system service): a generated
 * configuration from examples/nginx/nginx.conf.template in a temporary
 * directory that also holds its pid, logs and temp files, in the foreground on
 * a free port; stopped (and the directory removed) by `stop`.
 */
export class Nginx {
  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly port: number,
    private readonly output: string[],
  ) {}

  static async start(settings: NginxSettings): Promise<Nginx> {
    const binary = nginxBinary();
    const dir = await mkdtemp(path.join(tmpdir(), 'nginx-'));
    const port = await freePort();
    const config = renderNginxConfig(await readFile(NGINX_TEMPLATE, 'utf8'), {
      PREFIX: dir,
      LISTEN: `127.0.0.1:${port}`,
      AUTHZ: settings.authz,
      GATEWAY_TOKEN: settings.gatewayToken,
      UPSTREAM: settings.upstream,
    });
    const configPath = path.join(dir, 'nginx.conf');
    await writeFile(configPath, config, { mode: 0o600 });
    for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(path.join(dir, sub));
    const output: string[] = [];
    // -p: the prefix for relative paths; -e: the error log before the config is read (not the system's).
    const child = spawn(binary, ['-p', dir, '-e', path.join(dir, 'startup.log'), '-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
    const nginx = new Nginx(child, dir, port, output);
    await nginx.waitListening();
    return nginx;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** nginx's error log, for a failure message. */
  async errorLog(): Promise<string> {
    return (await readFile(path.join(this.dir, 'error.log'), 'utf8').catch(() => '')) + this.output.join('');
  }

  private async waitListening(): Promise<void> {
    const deadline = performance.now() + 15_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`nginx exited (${this.child.exitCode}): ${await this.errorLog()}`);
      const up = await new Promise<boolean>((resolve) => {
        const socket = net.connect(this.port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
      if (up) return;
      if (performance.now() > deadline) throw new Error(`nginx did not listen on ${this.port}: ${await this.errorLog()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops nginx (SIGQUIT: graceful; SIGKILL if it lingers) and removes its directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGQUIT');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** One request the upstream got. */
export interface UpstreamRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** The protected API: answers 200 and records what reached it. */
export class Upstream {
  readonly received: UpstreamRequest[] = [];

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<Upstream> {
    let self: Upstream | null = null;
    const server = http.createServer((req, res) => {
      self!.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, agentId: req.headers['x-agent-id'] ?? null }));
    });
    self = new Upstream(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get hostPort(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
