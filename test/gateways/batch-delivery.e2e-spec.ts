import { Webhook } from 'standardwebhooks';

import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver, ReceivedWebhook } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Gateways that opt in to batched bodies (`batchEvents`): one signed request
 * carries several events as `{ type: 'batch', events: [...] }`, each event
 * with its id, in event order; the setting is changed by PATCH (admin only,
 * audited) and every other gateway keeps one event per request.
 */
describe('batched event delivery', () => {
  let t: TestApp;
  let f: Fixtures;
  let product: any;
  const receivers: GatewayReceiver[] = [];
  const secrets: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ env: { DELIVERY_RETRY_SCHEDULE: '100ms,200ms', DELIVERY_RETRY_WINDOW: '10s' } });
    f = new Fixtures(t);
    product = await f.product();
  });

  afterAll(async () => {
    await t.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  async function gateway(r: GatewayReceiver, body: Record<string, unknown> = {}): Promise<{ id: string; secret: string; view: any }> {
    receivers.push(r);
    const res = await t.http.post(
      '/v1/gateways',
      { name: `gw-${Math.random().toString(36).slice(2, 8)}`, url: r.url, environments: ['production'], ...body },
      t.adminToken,
    );
    expect(res.status).toBe(201);
    return { id: res.body.gateway.id, secret: res.body.signingSecret, view: res.body.gateway };
  }

  /** Every event a receiver acknowledged, unpacked from batches, with the request that carried it. */
  function eventsOf(r: GatewayReceiver): Array<{ id: string; type: string; credentialId: string; request: ReceivedWebhook }> {
    return r
      .acknowledged()
      .flatMap((request) =>
        request.json.type === 'batch'
          ? request.json.events.map((e: any) => ({ id: e.id, type: e.type, credentialId: e.data.credentialId, request }))
          : [{ id: request.headers['webhook-id'], type: request.json.type, credentialId: request.json.data.credentialId, request }],
      );
  }

  it('sends a batch gateway several events in one signed request, each under its own id, in order per credential', async () => {
    // Slow answers: while one request is in flight, the next events gather for the next one.
    const batched = await GatewayReceiver.start(() => ({ status: 204, delayMs: 300 }));
    const single = await GatewayReceiver.start();
    const batchGw = await gateway(batched, { batchEvents: true });
    const singleGw = await gateway(single);
    expect(batchGw.view.batchEvents).toBe(true);
    expect(singleGw.view.batchEvents).toBe(false);

    const owner = await f.owner();
    const agent = await f.agent(owner.id);
    const credentials: any[] = [];
    for (let i = 0; i < 6; i++) {
      const issued = await f.credential(agent.id, [`${product.name}:read`]);
      secrets.push(issued.secret!);
      credentials.push(issued.credential);
    }
    const revoked = await t.http.post(`/v1/agents/${agent.id}/revoke`, { reason: 'batch drill' }, t.adminToken);
    expect(revoked.status).toBe(202);
    const view = await t.http.get(`/v1/revocations/${revoked.body.revocationId}?waitSeconds=20`, t.adminToken);
    expect(view.body.status).toBe('complete');

    const events: Array<{ id: string; type: string; credential_id: string }> = await t.dataSource.query(
      'SELECT id, type, credential_id FROM outbox_events WHERE credential_id = ANY ($1::uuid[]) ORDER BY seq',
      [credentials.map((c) => c.id)],
    );
    expect(events).toHaveLength(12);
    const got = eventsOf(batched);
    // Each event acknowledged once, under its outbox id.
    expect(got.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
    // Batched: fewer requests than events, at least one carrying several; every batch verifies with the gateway's key.
    const batches = batched.acknowledged().filter((r) => r.json.type === 'batch');
    expect(batches.length).toBe(batched.acknowledged().length);
    expect(batches.length).toBeLessThan(events.length);
    expect(Math.max(...batches.map((b) => b.json.events.length))).toBeGreaterThan(1);
    for (const b of batches) {
      expect(new Webhook(batchGw.secret).verify(b.body, b.headers)).toEqual(b.json);
      expect(b.headers['webhook-id']).toMatch(/^batch_[A-Za-z0-9_-]{32}$/);
      for (const e of b.json.events) expect(Object.keys(e)).toEqual(['id', 'type', 'timestamp', 'data']);
    }
    // One credential's events in order: issued before revoked, in the order the gateway received them.
    for (const c of credentials)
      expect(got.filter((e) => e.credentialId === c.id).map((e) => e.type)).toEqual(['credential.issued', 'credential.revoked']);

    // The other gateway still gets one event per request.
    expect(single.acknowledged().every((r) => r.json.type !== 'batch')).toBe(true);
    expect(eventsOf(single)).toHaveLength(12);
    const bodies = [...batched.received, ...single.received].map((r) => r.body).join('\n');
    for (const secret of secrets) expect(bodies).not.toContain(secret);
  });

  it('retries a batch that failed, then delivers every event in it', async () => {
    let down = true;
    const r = await GatewayReceiver.start(() => (down ? { status: 503 } : { status: 204 }));
    const gw = await gateway(r, { batchEvents: true });
    const owner = await f.owner();
    const agent = await f.agent(owner.id);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await f.credential(agent.id, [`${product.name}:read`])).credential.id);
    await r.waitFor((x) => x.received.length >= 2, 10_000, 'failed attempts');
    down = false;
    await eventually(
      async () => {
        const res = await t.http.get(`/v1/gateways/${gw.id}/deliveries?status=pending`, t.adminToken);
        return res.body.items.length === 0;
      },
      10_000,
      'every delivery done',
    );
    const delivered = (await t.http.get(`/v1/gateways/${gw.id}/deliveries`, t.adminToken)).body.items;
    expect(delivered.map((d: any) => d.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(delivered.some((d: any) => d.attempts >= 2)).toBe(true);
    // Every event of a refused batch was acknowledged later.
    const refused = r.received.filter((x) => x.status === 503).flatMap((x) => x.json.events.map((e: any) => e.id));
    expect(refused.length).toBeGreaterThan(0);
    const acknowledged = new Set(eventsOf(r).map((e) => e.id));
    for (const id of refused) expect(acknowledged.has(id)).toBe(true);
    expect(
      eventsOf(r)
        .map((e) => e.credentialId)
        .sort(),
    ).toEqual([...ids].sort());
  });

  it('lets an admin switch batchEvents with PATCH, audited; others get 403 or 401; bad input changes nothing', async () => {
    const r = await GatewayReceiver.start();
    const gw = await gateway(r);
    const on = await t.http.patch(`/v1/gateways/${gw.id}`, { batchEvents: true }, t.adminToken);
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ id: gw.id, batchEvents: true });
    expect((await t.http.get(`/v1/gateways/${gw.id}`, t.adminToken)).body.batchEvents).toBe(true);
    const audit = await t.http.get(`/v1/audit-events?action=gateway.updated&targetId=${gw.id}`, t.adminToken);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0].data).toEqual({ before: { batchEvents: false }, after: { batchEvents: true } });
    // The same value again changes nothing and records nothing.
    expect((await t.http.patch(`/v1/gateways/${gw.id}`, { batchEvents: true }, t.adminToken)).status).toBe(200);
    expect((await t.http.get(`/v1/audit-events?action=gateway.updated&targetId=${gw.id}`, t.adminToken)).body.items).toHaveLength(1);

    const owner = await f.owner();
    for (const role of ['responder', 'auditor'] as const) {
      const token = (await f.token(role)).token;
      expect((await t.http.patch(`/v1/gateways/${gw.id}`, { batchEvents: false }, token)).status).toBe(403);
    }
    expect((await t.http.patch(`/v1/gateways/${gw.id}`, { batchEvents: false }, (await f.token('owner', owner.id)).token)).status).toBe(
      403,
    );
    expect((await t.http.patch(`/v1/gateways/${gw.id}`, { batchEvents: false })).status).toBe(401);

    const cases: Array<[string, unknown, string]> = [
      [`/v1/gateways/${gw.id}`, { batchEvents: 'yes' }, 'batchEvents'],
      [`/v1/gateways/${gw.id}`, { batchEvents: 1 }, 'batchEvents'],
      [`/v1/gateways/${gw.id}`, { batchEvents: false, url: 'http://127.0.0.1:9/x' }, 'url'],
      ['/v1/gateways/not-a-uuid', { batchEvents: false }, 'id'],
    ];
    for (const [path, body, field] of cases) {
      const res = await t.http.patch(path, body, t.adminToken);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.errors.map((e: any) => e.field)).toContain(field);
    }
    const created = await t.http.post(
      '/v1/gateways',
      { name: 'bad-batch', url: r.url, environments: ['production'], batchEvents: 'true' },
      t.adminToken,
    );
    expect(created.status).toBe(400);
    expect(created.body.errors.map((e: any) => e.field)).toContain('batchEvents');
    expect((await t.dataSource.query(`SELECT count(*)::int AS n FROM gateways WHERE name = 'bad-batch'`))[0].n).toBe(0);
    expect((await t.http.patch('/v1/gateways/00000000-0000-4000-8000-000000000000', { batchEvents: true }, t.adminToken)).status).toBe(404);
    expect((await t.http.get(`/v1/gateways/${gw.id}`, t.adminToken)).body.batchEvents).toBe(true);
  });
});
