import { copyCredentials } from '../support/credential-copies';
import { Fixtures } from '../support/fixtures';
import { GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Bulk revocation at the scale the contract names (`npm run test:soak`, not
 * part of `npm test`): one revocation of 10,000 credentials that every gateway
 * acknowledges. `test/revocation/bulk-revocation.e2e-spec.ts` proves the same
 * with 2,500 credentials (three of the revocation's thousand-credential
 * transactions, dozens of delivery batches per gateway) in `npm test`.
 */
describe('bulk revocation at full scale', () => {
  let t: TestApp;
  let f: Fixtures;
  let product: any;
  const gateways: Array<{ id: string; receiver: GatewayReceiver; environments: string[] }> = [];

  beforeAll(async () => {
    t = await startTestApp({ env: { DELIVERY_RETRY_SCHEDULE: '100ms,200ms', DELIVERY_RETRY_WINDOW: '2s', DELIVERY_CONCURRENCY: '32' } });
    f = new Fixtures(t);
    product = await f.product();
    for (const environments of [['production'], ['production', 'sandbox'], ['sandbox']]) {
      const receiver = await GatewayReceiver.start();
      const res = await t.http.post('/v1/gateways', { name: `gw-${gateways.length}`, url: receiver.url, environments }, t.adminToken);
      expect(res.status).toBe(201);
      gateways.push({ id: res.body.gateway.id, receiver, environments });
    }
  });

  afterAll(async () => {
    await t.close();
    await Promise.all(gateways.map((g) => g.receiver.close()));
  });

  const seed = (templateId: string, count: number) => copyCredentials(t.dataSource, templateId, count);

  /** Holds until the revocation is no longer propagating (or `timeoutMs`), and returns its view. */
  async function settled(revocationId: string, timeoutMs: number): Promise<any> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const view = await t.http.get(`/v1/revocations/${revocationId}?waitSeconds=30`, t.adminToken);
      expect(view.status).toBe(200);
      if (view.body.status !== 'propagating' || performance.now() > deadline) return view.body;
    }
  }

  it('revokes 10,000 credentials in one call, and every gateway acknowledges each of them', async () => {
    const { agent } = await f.world();
    const template = (await f.credential(agent.id, [`${product.name}:read`])).credential;
    await seed(template.id, 9_999);
    const started = performance.now();
    const res = await t.http.post('/v1/revocations', { reason: 'mass incident', filter: { agentIds: [agent.id] } }, f.admin);
    const callMs = performance.now() - started;
    expect(res.status).toBe(202);
    expect(res.body.count).toBe(10_000);
    expect(new Set(res.body.credentialIds).size).toBe(10_000);
    const [counts] = await t.dataSource.query(
      `SELECT (SELECT count(*)::int FROM credentials WHERE agent_id = $1 AND status = 'revoked') AS revoked,
              (SELECT count(*)::int FROM revocation_credentials WHERE revocation_id = $2) AS rows,
              (SELECT count(*)::int FROM audit_events WHERE action = 'credential.revoked' AND data->>'revocationId' = $2::text) AS audit,
              (SELECT count(*)::int FROM outbox_events WHERE type = 'credential.revoked' AND payload::jsonb->'data'->>'revocationId' = $2::text) AS events`,
      [agent.id, res.body.revocationId],
    );
    expect(counts).toEqual({ revoked: 10_000, rows: 10_000, audit: 10_000, events: 10_000 });

    const view = await settled(res.body.revocationId, 240_000);
    const doneMs = performance.now() - started;
    process.stdout.write(
      `bulk revocation of 10,000: call ${(callMs / 1000).toFixed(2)} s, every acknowledgement ${(doneMs / 1000).toFixed(2)} s\n`,
    );
    expect(view.status).toBe('complete');
    const production = gateways.filter((g) => g.environments.includes('production'));
    expect(view.deliveries.map((d: any) => d.gatewayId).sort()).toEqual(production.map((g) => g.id).sort());
    for (const d of view.deliveries) {
      expect(d).toMatchObject({ status: 'delivered', total: 10_000, delivered: 10_000, pending: 0, failed: 0 });
      expect(d.deliveryIds).toHaveLength(10_000);
    }
    for (const g of production) {
      const got = new Set(
        g.receiver
          .events('credential.revoked')
          .filter((e) => e.json.data.revocationId === res.body.revocationId)
          .map((e) => e.json.data.credentialId),
      );
      expect(got.size).toBe(10_000);
    }
  });
});
