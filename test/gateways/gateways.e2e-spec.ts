import { createHash } from 'node:crypto';

import { Webhook } from 'standardwebhooks';

import { EventOutboxService as EventOutbox } from '../../src/gateways/event-outbox.service';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Gateways and signed event delivery over real HTTP: the registry, the events
 * inventory publishes, Standard Webhooks signatures (checked with the
 * reference verifier), retries, 410, timeouts, redirects, exhaustion and
 * manual retry. Retry delays are shrunk through configuration so nothing here
 * waits for the production schedule.
 */
describe('gateways and signed event delivery', () => {
  let t: TestApp;
  let f: Fixtures;
  let product: any;
  let agent: any;
  const receivers: GatewayReceiver[] = [];
  const issuedSecrets: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        DELIVERY_RETRY_SCHEDULE: '50ms,100ms,200ms',
        DELIVERY_RETRY_WINDOW: '1s',
        DELIVERY_TIMEOUT_MS: '400',
      },
    });
    f = new Fixtures(t);
    ({ product, agent } = await f.world());
  });

  afterAll(async () => {
    await t.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  async function receiver(...args: Parameters<typeof GatewayReceiver.start>): Promise<GatewayReceiver> {
    const r = await GatewayReceiver.start(...args);
    receivers.push(r);
    return r;
  }

  async function gateway(r: GatewayReceiver, environments = ['production']): Promise<{ id: string; secret: string }> {
    const res = await t.http.post(
      '/v1/gateways',
      { name: `gw-${receivers.indexOf(r)}-${Math.random().toString(36).slice(2, 8)}`, url: r.url, environments },
      t.adminToken,
    );
    expect(res.status).toBe(201);
    return { id: res.body.gateway.id, secret: res.body.signingSecret };
  }

  async function issue(overrides: Record<string, unknown> = {}): Promise<any> {
    const issued = await f.credential(agent.id, [`${product.name}:read`], overrides);
    expect(issued.status).toBe(201);
    issuedSecrets.push(issued.secret!);
    return issued.credential;
  }

  async function deliveriesOf(gatewayId: string, status?: string): Promise<any[]> {
    const res = await t.http.get(`/v1/gateways/${gatewayId}/deliveries${status ? `?status=${status}` : ''}`, t.adminToken);
    expect(res.status).toBe(200);
    return res.body.items;
  }

  it('registers a gateway, shows its signing secret once and stores it only sealed', async () => {
    const r = await receiver();
    const res = await t.http.post('/v1/gateways', { name: 'kong-eu-1', url: r.url, environments: ['production', 'sandbox'] }, t.adminToken);
    expect(res.status).toBe(201);
    const secret: string = res.body.signingSecret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(res.body.gateway).toMatchObject({ name: 'kong-eu-1', url: r.url, environments: ['production', 'sandbox'], status: 'active' });

    const got = await t.http.get(`/v1/gateways/${res.body.gateway.id}`, t.adminToken);
    expect(got.status).toBe(200);
    expect(got.text).not.toContain(secret.slice(6));
    expect(got.body).not.toHaveProperty('signingSecret');
    const list = await t.http.get('/v1/gateways', t.adminToken);
    expect(list.body.items.map((g: any) => g.id)).toContain(res.body.gateway.id);

    const rows = await t.dataSource.query('SELECT row_to_json(g)::text AS row FROM gateways g');
    expect(rows.map((x: any) => x.row).join('\n')).not.toContain(secret.slice(6));

    const duplicate = await t.http.post('/v1/gateways', { name: 'kong-eu-1', url: r.url, environments: ['sandbox'] }, t.adminToken);
    expect(duplicate.status).toBe(409);
  });

  it('refuses bad gateway input with a problem naming the field, and stores nothing', async () => {
    const before = (await t.dataSource.query('SELECT count(*)::int AS n FROM gateways'))[0].n;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'a', url: 'ftp://gw.example.com/x', environments: ['production'] }, 'url'],
      [{ name: 'a', url: 'not a url', environments: ['production'] }, 'url'],
      [{ name: 'a', url: 'https://u:p@gw.example.com/', environments: ['production'] }, 'url'],
      [{ name: 'a', url: 'https://gw.example.com/', environments: ['staging'] }, 'environments'],
      [{ name: 'a', url: 'https://gw.example.com/', environments: [] }, 'environments'],
      [{ name: '', url: 'https://gw.example.com/', environments: ['sandbox'] }, 'name'],
      [{ name: 'a', url: 'https://gw.example.com/', environments: ['sandbox'], secret: 'x' }, 'secret'],
    ];
    for (const [body, field] of cases) {
      const res = await t.http.post('/v1/gateways', body, t.adminToken);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.errors.map((e: any) => e.field)).toContain(field);
    }
    expect((await t.dataSource.query('SELECT count(*)::int AS n FROM gateways'))[0].n).toBe(before);
  });

  it('lets admins manage gateways, responders and auditors read them, and owners nothing', async () => {
    const owner = await f.owner();
    const tokens = {
      owner: await f.token('owner', owner.id),
      responder: await f.token('responder'),
      auditor: await f.token('auditor'),
    };
    const created = await t.http.post(
      '/v1/gateways',
      { name: 'roles-gw', url: 'https://gw.example.com/', environments: ['sandbox'] },
      t.adminToken,
    );
    const id = created.body.gateway.id;
    for (const role of ['responder', 'auditor'] as const) {
      expect((await t.http.get('/v1/gateways', tokens[role].token)).status).toBe(200);
      expect((await t.http.get(`/v1/gateways/${id}/deliveries`, tokens[role].token)).status).toBe(200);
      expect(
        (
          await t.http.post(
            '/v1/gateways',
            { name: `x-${role}`, url: 'https://gw.example.com/', environments: ['sandbox'] },
            tokens[role].token,
          )
        ).status,
      ).toBe(403);
      expect((await t.http.post(`/v1/gateways/${id}/rotate-signing-secret`, {}, tokens[role].token)).status).toBe(403);
    }
    expect((await t.http.get('/v1/gateways', tokens.owner.token)).status).toBe(403);
    expect((await t.http.get(`/v1/gateways/${id}`, tokens.owner.token)).status).toBe(403);
    expect((await t.http.get('/v1/gateways')).status).toBe(401);
    expect((await t.http.get('/v1/gateways/not-a-uuid', t.adminToken)).status).toBe(400);
    expect((await t.http.get('/v1/gateways/00000000-0000-4000-8000-000000000000', t.adminToken)).status).toBe(404);
  });

  it('sends issued and updated events, signed, to the gateways serving the environment only', async () => {
    const prod = await receiver();
    const sandbox = await receiver();
    const prodGw = await gateway(prod, ['production']);
    const sandboxGw = await gateway(sandbox, ['sandbox']);

    const credential = await issue();
    await prod.waitFor((r) => r.events('credential.issued', credential.id).length === 1, 10_000, 'credential.issued');
    const [issued] = prod.events('credential.issued', credential.id);
    expect(new Webhook(prodGw.secret).verify(issued.body, issued.headers)).toEqual(issued.json);
    expect(() => new Webhook(sandboxGw.secret).verify(issued.body, issued.headers)).toThrow();
    expect(issued.json).toEqual({
      type: 'credential.issued',
      timestamp: expect.any(String),
      data: expect.objectContaining({
        credentialId: credential.id,
        clientId: credential.clientId,
        agentId: agent.id,
        environment: 'production',
        scopes: [`${product.name}:read`],
        rateLimit: { requests: 100, perSeconds: 60 },
        ipAllowlist: [],
        secretVersion: 1,
        secretRef: credential.secretRef,
        secretSha256: createHash('sha256').update(issuedSecrets.at(-1)!).digest('hex'),
      }),
    });
    const delivery = await eventually(
      async () => {
        const d = (await deliveriesOf(prodGw.id)).find((x) => x.credentialId === credential.id);
        return d?.status === 'delivered' ? d : null;
      },
      5000,
      'delivery recorded',
    );
    expect(issued.headers['webhook-id']).toBe(delivery.eventId);
    expect(delivery).toMatchObject({ eventType: 'credential.issued', status: 'delivered', attempts: 1, lastStatusCode: 204 });

    const patched = await t.http.patch(`/v1/credentials/${credential.id}`, { rateLimit: { requests: 7, perSeconds: 1 } }, t.adminToken);
    expect(patched.status).toBe(200);
    await prod.waitFor((r) => r.events('credential.updated', credential.id).length === 1, 10_000, 'credential.updated');
    expect(prod.events('credential.updated', credential.id)[0].json.data.rateLimit).toEqual({ requests: 7, perSeconds: 1 });

    // Privileged scopes: nothing is published until a second admin approves.
    const approver = await f.token('admin');
    const pending = await f.credential(agent.id, [`${product.name}:delete`]);
    expect(pending.status).toBe(202);
    const approved = await t.http.post(`/v1/credentials/${pending.credential.id}/approve`, {}, approver.token);
    expect(approved.status).toBe(200);
    await prod.waitFor((r) => r.events('credential.issued', pending.credential.id).length === 1, 10_000, 'issued on approval');
    const change = await t.http.patch(
      `/v1/credentials/${credential.id}`,
      { scopes: [`${product.name}:read`, `${product.name}:admin`] },
      t.adminToken,
    );
    expect(change.status).toBe(202);
    expect((await t.http.post(`/v1/credentials/${credential.id}/approve`, {}, approver.token)).status).toBe(200);
    await prod.waitFor((r) => r.events('credential.updated', credential.id).length === 2, 10_000, 'updated on change approval');
    expect(prod.events('credential.updated', credential.id)[1].json.data.scopes).toContain(`${product.name}:admin`);

    // The sandbox gateway heard nothing of production credentials.
    expect(sandbox.received).toHaveLength(0);
    expect(await deliveriesOf(sandboxGw.id)).toHaveLength(0);
    const sandboxCredential = await issue({ environment: 'sandbox' });
    await sandbox.waitFor((r) => r.events('credential.issued', sandboxCredential.id).length === 1, 10_000, 'sandbox issued');
    expect(new Webhook(sandboxGw.secret).verify(sandbox.received[0].body, sandbox.received[0].headers)).toBeTruthy();

    for (const r of [prod, sandbox]) {
      for (const secret of issuedSecrets) expect(r.received.map((x) => x.body).join('\n')).not.toContain(secret);
    }
  });

  it('signs with both keys for 24 hours after a signing-secret rotation, then with the new key only', async () => {
    const r = await receiver();
    const gw = await gateway(r);
    const credential = await issue();
    await r.waitFor((x) => x.events('credential.issued', credential.id).length === 1);

    const rotated = await t.http.post(`/v1/gateways/${gw.id}/rotate-signing-secret`, {}, t.adminToken);
    expect(rotated.status).toBe(200);
    const newSecret: string = rotated.body.signingSecret;
    expect(newSecret).not.toBe(gw.secret);
    expect(rotated.body.gateway.signingSecretVersion).toBe(2);

    await t.http.patch(`/v1/credentials/${credential.id}`, { rateLimit: { requests: 11, perSeconds: 1 } }, t.adminToken);
    await r.waitFor((x) => x.events('credential.updated', credential.id).length === 1);
    const during = r.events('credential.updated', credential.id)[0];
    expect(during.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(gw.secret).verify(during.body, during.headers)).toEqual(during.json);
    expect(new Webhook(newSecret).verify(during.body, during.headers)).toEqual(during.json);

    // Rotate again "25 hours ago": by now the key it replaced no longer signs.
    const realNow = new Date();
    t.clock.set(new Date(realNow.getTime() - 25 * 3600 * 1000));
    const third = await t.http.post(`/v1/gateways/${gw.id}/rotate-signing-secret`, {}, t.adminToken);
    t.clock.set(realNow);
    const thirdSecret: string = third.body.signingSecret;
    await t.http.patch(`/v1/credentials/${credential.id}`, { rateLimit: { requests: 12, perSeconds: 1 } }, t.adminToken);
    await r.waitFor((x) => x.events('credential.updated', credential.id).length === 2);
    const after = r.events('credential.updated', credential.id)[1];
    expect(after.headers['webhook-signature'].split(' ')).toHaveLength(1);
    expect(new Webhook(thirdSecret).verify(after.body, after.headers)).toEqual(after.json);
    expect(() => new Webhook(newSecret).verify(after.body, after.headers)).toThrow();
  });

  it('retries a gateway that answers 503 (honouring retry-after) and delivers every event in order once it recovers', async () => {
    let down = true;
    const r = await receiver(() => (down ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }));
    const gw = await gateway(r);
    const credential = await issue();
    await t.http.patch(`/v1/credentials/${credential.id}`, { rateLimit: { requests: 201, perSeconds: 1 } }, t.adminToken);
    await t.http.patch(`/v1/credentials/${credential.id}`, { rateLimit: { requests: 202, perSeconds: 1 } }, t.adminToken);
    await r.waitFor((x) => x.received.length >= 2, 5000, 'two failed attempts');
    down = false;
    await r.waitFor(
      (x) => x.acknowledged().filter((a) => a.json.data.credentialId === credential.id).length === 3,
      10_000,
      'all three events',
    );

    const mine = r.received.filter((x) => x.json.data.credentialId === credential.id);
    // Nothing later overtook the first event: every attempt before its acknowledgement was the issued event.
    const firstAck = mine.findIndex((x) => x.status === 200);
    expect(mine.slice(0, firstAck + 1).every((x) => x.json.type === 'credential.issued')).toBe(true);
    expect(mine[1].receivedAt - mine[0].receivedAt).toBeGreaterThanOrEqual(900);
    expect(new Set(mine.filter((x) => x.json.type === 'credential.issued').map((x) => x.headers['webhook-id'])).size).toBe(1);
    const acked = mine.filter((x) => x.status === 200).map((x) => [x.json.type, x.json.data.rateLimit.requests]);
    expect(acked).toEqual([
      ['credential.issued', 100],
      ['credential.updated', 201],
      ['credential.updated', 202],
    ]);
    const issued = (await deliveriesOf(gw.id)).find((d) => d.eventType === 'credential.issued');
    expect(issued.attempts).toBeGreaterThanOrEqual(2);
    expect(issued.status).toBe('delivered');
  });

  it("publishes several events in one call: each delivered once, one credential's events in the order given", async () => {
    const r = await receiver();
    await gateway(r);
    const [a, b] = [await issue(), await issue()];
    await r.waitFor(
      (x) => x.acknowledged().filter((w) => [a.id, b.id].includes(w.json.data.credentialId)).length === 2,
      5000,
      'the issued events',
    );
    const outbox = t.app.get(EventOutbox);
    const event = (credential: any, step: number) => ({
      type: 'credential.updated' as const,
      credentialId: credential.id,
      environment: 'production' as const,
      data: { credentialId: credential.id, step },
    });
    const published = await t.dataSource.transaction((em) =>
      outbox.publishMany(em, [event(a, 1), event(b, 1), event(a, 2), event(a, 3), event(b, 2)]),
    );
    expect(published).toHaveLength(5);
    expect(new Set(published.map((p) => p.eventId)).size).toBe(5);
    for (const p of published) expect(p.deliveryIds.length).toBeGreaterThanOrEqual(1);

    const updates = (x: GatewayReceiver, credential: any) =>
      x.acknowledged().filter((w) => w.json.type === 'credential.updated' && w.json.data.credentialId === credential.id);
    await r.waitFor((x) => updates(x, a).length === 3 && updates(x, b).length === 2, 5000, 'the five updates');
    expect(updates(r, a).map((w) => w.json.data.step)).toEqual([1, 2, 3]);
    expect(updates(r, b).map((w) => w.json.data.step)).toEqual([1, 2]);
    const seqs: Array<{ seq: string }> = await t.dataSource.query('SELECT seq FROM outbox_events WHERE id = ANY ($1) ORDER BY seq', [
      published.map((p) => p.eventId),
    ]);
    const order = await Promise.all(
      published.map(async (p) => (await t.dataSource.query('SELECT seq FROM outbox_events WHERE id = $1', [p.eventId]))[0].seq),
    );
    expect(order).toEqual(seqs.map((row) => row.seq));
  });

  it('disables a gateway that answers 410 Gone and sends it nothing more', async () => {
    const r = await receiver(() => ({ status: 410 }));
    const gw = await gateway(r);
    const credential = await issue();
    await eventually(
      async () => (await t.http.get(`/v1/gateways/${gw.id}`, t.adminToken)).body.status === 'disabled',
      10_000,
      'gateway disabled',
    );
    const [delivery] = await deliveriesOf(gw.id);
    expect(delivery).toMatchObject({ status: 'failed', lastStatusCode: 410, credentialId: credential.id });
    const audit = await t.http.get(`/v1/audit-events?action=gateway.disabled&targetId=${gw.id}`, t.adminToken);
    expect(audit.body.items).toHaveLength(1);

    await issue();
    expect(await deliveriesOf(gw.id)).toHaveLength(1);
    expect(r.received).toHaveLength(1);

    const enabled = await t.http.post(`/v1/gateways/${gw.id}/enable`, {}, t.adminToken);
    expect(enabled.body).toMatchObject({ status: 'active', disabledAt: null });
    r.respondWith(() => ({ status: 204 }));
  });

  it('retries a gateway slower than the timeout with the same webhook-id', async () => {
    const r = await receiver((_req, n) => (n === 0 ? { status: 200, delayMs: 1200 } : { status: 200 }));
    const gw = await gateway(r);
    const credential = await issue();
    const delivery = await eventually(
      async () => {
        const d = (await deliveriesOf(gw.id)).find((x) => x.credentialId === credential.id);
        return d?.status === 'delivered' ? d : null;
      },
      10_000,
      'delivered after a timeout',
    );
    expect(delivery.attempts).toBe(2);
    await r.waitFor((x) => x.received.length === 2, 5000, 'the slow answer');
    expect(new Set(r.received.map((x) => x.headers['webhook-id']))).toEqual(new Set([delivery.eventId]));
  });

  it('never follows a redirect: a 3xx is a failed attempt', async () => {
    const target = await receiver();
    const r = await receiver(() => ({ status: 307, headers: { location: target.url } }));
    const gw = await gateway(r, ['sandbox']);
    await issue({ environment: 'sandbox' });
    const delivery = await eventually(
      async () => {
        const d = (await deliveriesOf(gw.id))[0];
        return d?.attempts >= 2 ? d : null;
      },
      10_000,
      'two redirected attempts',
    );
    expect(delivery.lastStatusCode).toBe(307);
    expect(target.received).toHaveLength(0);
    r.respondWith(() => ({ status: 204 }));
  });

  it('gives up after the retry schedule, lists the failure and retries it on request', async () => {
    const r = await receiver(() => ({ status: 500 }));
    const gw = await gateway(r);
    const credential = await issue();
    const failed = await eventually(async () => (await deliveriesOf(gw.id, 'failed'))[0], 10_000, 'a failed delivery');
    // 50ms,100ms,200ms then 200ms while within 1s: six retries after the first attempt.
    expect(failed).toMatchObject({ credentialId: credential.id, eventType: 'credential.issued', attempts: 7, lastStatusCode: 500 });
    expect(failed.lastError).toMatch(/HTTP 500/);
    const everywhere = await t.http.get('/v1/deliveries?status=failed', t.adminToken);
    expect(everywhere.body.items.map((d: any) => d.id)).toContain(failed.id);

    r.respondWith(() => ({ status: 204 }));
    const responder = await f.token('responder');
    expect((await t.http.post(`/v1/deliveries/${failed.id}/retry`, {}, responder.token)).status).toBe(403);
    const retried = await t.http.post(`/v1/deliveries/${failed.id}/retry`, {}, t.adminToken);
    expect(retried.status).toBe(200);
    expect(retried.body.status).toBe('pending');
    await eventually(
      async () => (await deliveriesOf(gw.id)).find((d) => d.id === failed.id)?.status === 'delivered',
      10_000,
      'redelivered',
    );
    expect((await t.http.post(`/v1/deliveries/${failed.id}/retry`, {}, t.adminToken)).status).toBe(409);

    // An older event is never re-sent after a newer one of the same credential reached the gateway.
    r.respondWith(() => ({ status: 500 }));
    const second = await issue();
    const stale = await eventually(
      async () => (await deliveriesOf(gw.id, 'failed')).find((d) => d.credentialId === second.id),
      10_000,
      'second failure',
    );
    r.respondWith(() => ({ status: 204 }));
    await t.http.patch(`/v1/credentials/${second.id}`, { rateLimit: { requests: 5, perSeconds: 5 } }, t.adminToken);
    await r.waitFor((x) => x.events('credential.updated', second.id).length === 1);
    const superseded = await t.http.post(`/v1/deliveries/${stale.id}/retry`, {}, t.adminToken);
    expect(superseded.status).toBe(409);
    expect(superseded.body.code).toBe('DELIVERY_SUPERSEDED');
  });

  it('reports delivery metrics', async () => {
    const res = await t.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/webhook_delivery_attempts_total\{event_type="credential.issued",gateway="[^"]+",result="2xx"\} \d+/);
    expect(res.text).toMatch(/webhook_delivery_attempts_total\{[^}]*result="5xx"\} \d+/);
    expect(res.text).toMatch(/webhook_delivery_outcomes_total\{[^}]*outcome="failed"\} \d+/);
    expect(res.text).toMatch(/webhook_ack_latency_seconds_bucket\{/);
    expect(res.text).toMatch(/^outbox_backlog_deliveries \d+$/m);
    expect(res.text).toMatch(/^outbox_oldest_undelivered_age_seconds [\d.e+-]+$/m);
  });
});

describe('GATEWAY_URL_ALLOWLIST', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { GATEWAY_URL_ALLOWLIST: 'gw.example.com,*.gateways.example.com' } });
  });
  afterAll(() => t.close());

  it('only accepts gateway URLs on listed hosts', async () => {
    for (const url of ['http://127.0.0.1:9/x', 'http://169.254.169.254/latest/meta-data', 'https://example.com/']) {
      const res = await t.http.post('/v1/gateways', { name: `x${Math.random()}`, url, environments: ['sandbox'] }, t.adminToken);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ field: 'url', message: expect.stringContaining('GATEWAY_URL_ALLOWLIST') }]);
    }
    expect(
      (await t.http.post('/v1/gateways', { name: 'a', url: 'https://gw.example.com/x', environments: ['sandbox'] }, t.adminToken)).status,
    ).toBe(201);
    expect(
      (await t.http.post('/v1/gateways', { name: 'b', url: 'https://eu.gateways.example.com/x', environments: ['sandbox'] }, t.adminToken))
        .status,
    ).toBe(201);
  });
});
