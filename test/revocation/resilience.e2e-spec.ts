import { Webhook } from 'standardwebhooks';

import { OutboxSweeperService as OutboxSweeper } from '../../src/gateways/outbox-sweeper.service';
import { ChildApp } from '../support/child-app';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { PrivateRedis } from '../support/private-redis';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Every gateway eventually gets every revocation, whatever happens to the
 * worker or to Redis in between: the outbox rows in Postgres are the truth,
 * jobs are only a way to get them sent.
 */

interface Gateway {
  id: string;
  secret: string;
  receiver: GatewayReceiver;
}

async function registerGateways(t: TestApp, receivers: GatewayReceiver[]): Promise<Gateway[]> {
  const gateways: Gateway[] = [];
  for (const receiver of receivers) {
    const res = await t.http.post(
      '/v1/gateways',
      { name: `gw-${gateways.length}`, url: receiver.url, environments: ['production'] },
      t.adminToken,
    );
    expect(res.status).toBe(201);
    gateways.push({ id: res.body.gateway.id, secret: res.body.signingSecret, receiver });
  }
  return gateways;
}

/**
 * Each gateway got each event, verified its signature, and every copy of one
 * event (retries, redelivery after a crash) carried the same webhook-id: the
 * event's id in the outbox. One credential's events arrived in order.
 */
async function expectEveryEventOnce(t: TestApp, gateways: Gateway[], credentialIds: string[]): Promise<void> {
  const events: Array<{ id: string; type: string; credential_id: string }> = await t.dataSource.query(
    'SELECT id, type, credential_id FROM outbox_events WHERE credential_id = ANY($1::uuid[])',
    [credentialIds],
  );
  expect(events).toHaveLength(credentialIds.length * 2);
  const eventIdOf = new Map(events.map((e) => [`${e.type}:${e.credential_id}`, e.id]));
  for (const g of gateways) {
    const byKey = new Map<string, Set<string>>();
    for (const request of g.receiver.received) {
      expect(new Webhook(g.secret).verify(request.body, request.headers)).toEqual(request.json);
      const key = `${request.json.type}:${request.json.data.credentialId}`;
      byKey.set(key, (byKey.get(key) ?? new Set()).add(request.headers['webhook-id']));
    }
    for (const [key, eventId] of eventIdOf) {
      expect([key, [...(byKey.get(key) ?? [])]]).toEqual([key, [eventId]]);
    }
    for (const credentialId of credentialIds) {
      const types = g.receiver.received.filter((r) => r.json.data.credentialId === credentialId).map((r) => r.json.type);
      // Redelivery may repeat an event, never reorder them: no issued after the first revoked.
      expect(types.lastIndexOf('credential.issued')).toBeLessThan(types.indexOf('credential.revoked'));
    }
  }
  const pending = await t.dataSource.query(`SELECT count(*)::int AS n FROM deliveries WHERE status <> 'delivered'`);
  expect(pending[0].n).toBe(0);
}

describe('a worker killed in the middle of deliveries', () => {
  let t: TestApp;
  const workers: ChildApp[] = [];
  const receivers: GatewayReceiver[] = [];

  beforeAll(async () => {
    // The API in this process; the worker (and the sweep) in a child process we can SIGKILL.
    t = await startTestApp({ roles: 'api' });
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await t.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  function startWorker(): Promise<ChildApp> {
    return ChildApp.start({
      env: {
        DATABASE_URL: t.database.url,
        REDIS_URL: t.env.REDIS_URL,
        REDIS_PREFIX: t.redisPrefix,
        ADMIN_TOKEN: t.adminToken,
        LOCAL_STORE_KEY: t.env.LOCAL_STORE_KEY,
        ROLES: 'worker,scheduler',
        DELIVERY_CONCURRENCY: '4',
        DELIVERY_LOCK_MS: '1000',
        OUTBOX_SWEEP_INTERVAL_MS: '500',
        DELIVERY_RETRY_SCHEDULE: '100ms',
        DELIVERY_RETRY_WINDOW: '30s',
      },
    }).then((w) => {
      workers.push(w);
      return w;
    });
  }

  it('delivers every event after a restart, each under one webhook-id', async () => {
    for (let i = 0; i < 3; i++) receivers.push(await GatewayReceiver.start(() => ({ status: 204, delayMs: 60 })));
    const gateways = await registerGateways(t, receivers);
    const f = new Fixtures(t);
    const { product, agent } = await f.world();
    const credentialIds: string[] = [];
    for (let i = 0; i < 10; i++) credentialIds.push((await f.credential(agent.id, [`${product.name}:read`])).credential.id);
    const revocations = [];
    for (const id of credentialIds)
      revocations.push((await t.http.post(`/v1/credentials/${id}/revoke`, { reason: 'drill' }, t.adminToken)).body);

    const first = await startWorker();
    await eventually(() => receivers.reduce((n, r) => n + r.received.length, 0) >= 12, 60_000, 'some deliveries before the crash');
    expect(await first.kill('SIGKILL')).toBeNull();
    const before = receivers.reduce((n, r) => n + r.received.length, 0);
    expect(before).toBeLessThan(60);

    await startWorker();
    for (const r of revocations) {
      const view = await t.http.get(`/v1/revocations/${r.revocationId}?waitSeconds=30`, t.adminToken);
      expect(view.body.status).toBe('complete');
    }
    await expectEveryEventOnce(t, gateways, credentialIds);
  }, 240_000);
});

describe('Redis flushed in the middle of a propagation', () => {
  let redis: PrivateRedis;
  let t: TestApp;
  const receivers: GatewayReceiver[] = [];

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    t = await startTestApp({
      env: { REDIS_URL: redis.url, DELIVERY_RETRY_SCHEDULE: '300ms', DELIVERY_RETRY_WINDOW: '60s', DELIVERY_CONCURRENCY: '4' },
    });
  });

  afterAll(async () => {
    await t.close();
    await Promise.all(receivers.map((r) => r.close()));
    await redis.stop();
  });

  it('still completes every delivery', async () => {
    let down = true;
    receivers.push(await GatewayReceiver.start(() => ({ status: 204, delayMs: 40 })));
    receivers.push(await GatewayReceiver.start(() => (down ? { status: 503 } : { status: 204 })));
    receivers.push(await GatewayReceiver.start());
    const gateways = await registerGateways(t, receivers);
    const f = new Fixtures(t);
    const { product, agent } = await f.world();
    const credentialIds: string[] = [];
    for (let i = 0; i < 8; i++) credentialIds.push((await f.credential(agent.id, [`${product.name}:read`])).credential.id);
    const revocations = [];
    for (const id of credentialIds)
      revocations.push((await t.http.post(`/v1/credentials/${id}/revoke`, { reason: 'drill' }, t.adminToken)).body);

    // Mid-propagation: the slow gateway part-way through, the failing one waiting on backoffs.
    await receivers[0].waitFor((r) => r.received.length >= 3, 10_000, 'the slow gateway to be part-way');
    await receivers[1].waitFor((r) => r.received.length >= 2, 10_000, 'the failing gateway to have failed');
    await redis.flushAll();
    down = false;

    const sweeper = t.app.get(OutboxSweeper);
    await eventually(
      async () => {
        await sweeper.sweep();
        const pending = await t.dataSource.query(`SELECT count(*)::int AS n FROM deliveries WHERE status = 'pending'`);
        return pending[0].n === 0;
      },
      30_000,
      'every delivery done after the flush',
    );
    for (const r of revocations) {
      const view = await t.http.get(`/v1/revocations/${r.revocationId}`, t.adminToken);
      expect(view.body.status).toBe('complete');
    }
    await expectEveryEventOnce(t, gateways, credentialIds);
  });
});
