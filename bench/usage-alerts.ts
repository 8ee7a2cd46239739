/**
 * alert_latency_p99 for `npm run bench:usage` (bench/usage.bench.ts calls it).
 *
 * A service of its own (api, worker and scheduler roles, on a database and
 * Redis prefix of its own) with the notification webhook pointed at a plain
 * HTTP receiver here that answers 204. For each of BENCH_ALERT_TRIALS (30)
 * fresh credentials, a gateway calls POST /v1/verify with a scope the
 * credential lacks ALERT_AUTH_FAILURES_PER_MINUTE - 1 times (19), waits
 * until they are recorded, then once more: that call crosses the threshold.
 * The latency runs from just before that call is sent until the receiver has
 * the `alert.raised` of the credential (its answer, 204, follows at once).
 * Trials run one after another, each within one minute of the clock (the
 * threshold counts denials per credential and minute).
 *
 * Figures, one per line, `name: value unit`:
 *   alert_latency_p50, alert_latency_p99   seconds (target: p99 ≤ 2 s)
 *   alert_latency_ratio_to_target          p99 / 2 s (≤ 1 meets it)
 *   alert_usage_flush_interval             USAGE_FLUSH_INTERVAL_MS, the part of the latency spent waiting
 *                                          for the recorder's batch (detection runs in its flush)
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { figure, freshDatabase, percentile, serviceEnv, startService } from './support';

const TRIALS = Number(process.env.BENCH_ALERT_TRIALS ?? 30);
const THRESHOLD = 20;
const FLUSH_INTERVAL_MS = 1000;
const TARGET_S = 2;

export async function alertLatency(): Promise<void> {
  const arrivals = new Map<string, number>();
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const at = performance.now();
      try {
        const event = JSON.parse(body) as { type?: string; data?: { credentialId?: string } };
        if (event.type === 'alert.raised' && event.data?.credentialId && !arrivals.has(event.data.credentialId)) {
          arrivals.set(event.data.credentialId, at);
        }
      } catch {
        // not an event: acknowledged all the same
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;

  const db = await freshDatabase('bench_alerts');
  const adminToken = randomBytes(24).toString('base64url');
  const service = await startService(
    serviceEnv(db.url, adminToken, {
      ROLES: 'api,worker,scheduler',
      NOTIFY_WEBHOOK_URL: notifyUrl,
      NOTIFY_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
      ALERT_AUTH_FAILURES_PER_MINUTE: String(THRESHOLD),
      USAGE_FLUSH_INTERVAL_MS: String(FLUSH_INTERVAL_MS),
    }),
  );
  try {
    const call = async (path: string, body: unknown, token = adminToken) => {
      const r = await fetch(`${service.baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await r.text();
      if (r.status >= 300) throw new Error(`POST ${path}: ${r.status} ${text}`);
      return JSON.parse(text) as any;
    };
    const owner = await call('/v1/owners', { name: 'bench-alerts', email: 'bench-alerts@example.com', kind: 'team' });
    await call('/v1/products', { name: 'orders', operations: ['read', 'write'] });
    const agent = await call('/v1/agents', { name: 'bench-alerts-agent', ownerId: owner.id });
    const gateway = await call('/v1/gateways', { name: 'bench-alerts-gw', url: 'http://127.0.0.1:9/hook', environments: ['production'] });
    const gatewayToken = (await call('/v1/tokens', { name: 'bench-alerts-gw', role: 'gateway', gatewayId: gateway.gateway.id }))
      .token as string;

    const latencies: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      // The threshold counts per credential and minute: a trial starts early enough in a minute to end within it.
      const second = (Date.now() % 60_000) / 1000;
      if (second > 45) await new Promise((r) => setTimeout(r, (60 - second) * 1000 + 50));
      const made = await call('/v1/credentials', {
        agentId: agent.id,
        type: 'api_key',
        environment: 'production',
        scopes: ['orders:read'],
        rateLimit: { requests: 1000, perSeconds: 60 },
      });
      const id = made.credential.id as string;
      const deny = () => call('/v1/verify', { key: made.secret, scope: 'orders:write', ip: '198.51.100.7' }, gatewayToken);
      for (let i = 0; i < THRESHOLD - 1; i++) await deny();
      // Let the first nineteen be recorded (their flush), so the timed call is the one that crosses.
      await new Promise((r) => setTimeout(r, FLUSH_INTERVAL_MS * 1.5));
      if (arrivals.has(id)) throw new Error('an alert came before the threshold was crossed');
      const started = performance.now();
      await deny();
      const deadline = started + 15_000;
      while (!arrivals.has(id)) {
        if (performance.now() > deadline) throw new Error(`no alert.raised for credential ${id} within 15 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      latencies.push((arrivals.get(id)! - started) / 1000);
    }
    latencies.sort((a, b) => a - b);
    figure('alert_latency_p50', percentile(latencies, 50), 's');
    figure('alert_latency_p99', percentile(latencies, 99), 's');
    figure('alert_latency_ratio_to_target', percentile(latencies, 99) / TARGET_S, 'ratio');
    figure('alert_usage_flush_interval', FLUSH_INTERVAL_MS / 1000, 's');
  } finally {
    await service.stop();
    await db.drop();
    await new Promise((r) => receiver.close(r));
  }
}
