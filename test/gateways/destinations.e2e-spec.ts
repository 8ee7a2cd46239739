import { HostResolver, ResolvedAddress } from '../../src/gateways/host-resolver';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Where webhooks may go. Link-local and cloud metadata addresses are refused
 * at registration (400 naming `url`) and, for names, at send time against
 * what the name resolves to, connecting only to the address that was checked.
 * Names resolve through a resolver this test controls (the HostResolver port).
 */
class ScriptedResolver extends HostResolver {
  readonly calls: string[] = [];
  private readonly answers = new Map<string, string[]>();

  answer(hostname: string, addresses: string[]): void {
    this.answers.set(hostname, addresses);
  }

  async resolve(hostname: string): Promise<ResolvedAddress[]> {
    this.calls.push(hostname);
    const addresses = this.answers.get(hostname);
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  }
}

const FORBIDDEN_URLS = [
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'http://[::ffff:169.254.169.254]/latest/meta-data/',
  'http://[fe80::1]/hooks',
  'http://[fd00:ec2::254]/latest/meta-data/',
  'http://100.100.100.200/latest/meta-data/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://0.0.0.0:8080/hooks',
  'http://224.0.0.1/hooks',
];

async function countGateways(t: TestApp): Promise<number> {
  return (await t.dataSource.query('SELECT count(*)::int AS n FROM gateways'))[0].n;
}

describe('gateway destinations with the default settings', () => {
  let t: TestApp;
  let f: Fixtures;
  const resolver = new ScriptedResolver();
  const receivers: GatewayReceiver[] = [];

  beforeAll(async () => {
    t = await startTestApp({ overrides: [{ provide: HostResolver, useValue: resolver }] });
    f = new Fixtures(t);
  });

  afterAll(async () => {
    await t.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  it('refuses link-local, metadata, unspecified and multicast URLs at registration with a 400 naming url, storing nothing', async () => {
    for (const url of FORBIDDEN_URLS) {
      const res = await t.http.post('/v1/gateways', { name: 'metadata', url, environments: ['production'] }, t.adminToken);
      expect([url, res.status]).toEqual([url, 400]);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.errors).toEqual([
        { field: 'url', message: expect.stringMatching(/^host .* is (a|an) .*(link-local|metadata|unspecified|multicast)/) },
      ]);
    }
    expect(await countGateways(t)).toBe(0);
  });

  it('sends to a name resolving to a private or loopback address, over the address it checked', async () => {
    const receiver = await GatewayReceiver.start();
    receivers.push(receiver);
    const port = new URL(receiver.url).port;
    // No real DNS knows this name: the delivery can only arrive through the checked answer.
    resolver.answer('gw.internal.test', ['127.0.0.1']);
    const res = await t.http.post(
      '/v1/gateways',
      { name: 'internal', url: `http://gw.internal.test:${port}/events`, environments: ['production'] },
      t.adminToken,
    );
    expect(res.status).toBe(201);

    const { product, agent } = await f.world();
    const { credential } = await f.credential(agent.id, [`${product.name}:read`]);
    await receiver.waitFor((r) => r.events('credential.issued', credential.id).length === 1, 10_000, 'the issued event');
    // One resolution per connection: the socket did not look the name up again after the check.
    expect(resolver.calls.filter((h) => h === 'gw.internal.test')).toHaveLength(1);
  });

  it('refuses at send time a name that resolves to a metadata address, failing the delivery with a clear lastError', async () => {
    const trap = await GatewayReceiver.start();
    receivers.push(trap);
    const port = new URL(trap.url).port;
    // Registered while the name looks harmless; by the time events go, it points at the metadata service.
    resolver.answer('rebind.test', ['127.0.0.1']);
    resolver.answer('mixed.test', ['127.0.0.1', '::ffff:169.254.169.254']);
    const rebind = await t.http.post(
      '/v1/gateways',
      { name: 'rebind', url: `http://rebind.test:${port}/events`, environments: ['production'] },
      t.adminToken,
    );
    const mixed = await t.http.post(
      '/v1/gateways',
      { name: 'mixed', url: `http://mixed.test:${port}/events`, environments: ['production'] },
      t.adminToken,
    );
    expect([rebind.status, mixed.status]).toEqual([201, 201]);
    resolver.answer('rebind.test', ['169.254.169.254']);

    const { product, agent } = await f.world();
    const { credential } = await f.credential(agent.id, [`${product.name}:read`]);
    const revoke = await t.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'drill' }, t.adminToken);
    expect(revoke.status).toBe(202);

    const view = await t.http.get(`/v1/revocations/${revoke.body.revocationId}?waitSeconds=10`, t.adminToken);
    expect(view.body.status).toBe('failed');
    const byGateway = new Map(view.body.deliveries.map((d: any) => [d.gatewayId, d]));
    expect(byGateway.get(rebind.body.gateway.id)).toMatchObject({
      status: 'failed',
      lastError: 'destination refused: rebind.test resolves to 169.254.169.254, a link-local address (where cloud metadata services live)',
    });
    expect(byGateway.get(mixed.body.gateway.id)).toMatchObject({
      status: 'failed',
      lastError: expect.stringMatching(/^destination refused: mixed\.test resolves to ::ffff:169\.254\.169\.254, a link-local address/),
    });
    for (const gatewayId of [rebind.body.gateway.id, mixed.body.gateway.id]) {
      const deliveries = (await t.http.get(`/v1/gateways/${gatewayId}/deliveries`, t.adminToken)).body.items;
      expect(deliveries.map((d: any) => [d.eventType, d.status, d.attempts])).toEqual(
        expect.arrayContaining([
          ['credential.issued', 'failed', 0],
          ['credential.revoked', 'failed', 0],
        ]),
      );
    }
    expect(trap.received).toHaveLength(0);
    // The signing secrets stay out of the error and the logs.
    for (const secret of [rebind.body.signingSecret, mixed.body.signingSecret]) {
      expect(JSON.stringify(view.body)).not.toContain(secret);
      expect(t.logs.text()).not.toContain(secret);
    }
    expect(t.logs.text()).toContain('delivery refused: forbidden destination');
  });

  it('keeps the worker running after a refusal', async () => {
    const receiver = await GatewayReceiver.start();
    receivers.push(receiver);
    const res = await t.http.post('/v1/gateways', { name: 'after', url: receiver.url, environments: ['production'] }, t.adminToken);
    expect(res.status).toBe(201);
    const { product, agent } = await f.world();
    const { credential } = await f.credential(agent.id, [`${product.name}:read`]);
    await eventually(() => receiver.events('credential.issued', credential.id).length === 1, 10_000, 'a later delivery');
  });
});

describe('gateway destinations with private networks switched off', () => {
  let t: TestApp;
  let f: Fixtures;
  const resolver = new ScriptedResolver();
  const receivers: GatewayReceiver[] = [];

  beforeAll(async () => {
    t = await startTestApp({
      env: { GATEWAY_ALLOW_PRIVATE_NETWORKS: 'false' },
      overrides: [{ provide: HostResolver, useValue: resolver }],
    });
    f = new Fixtures(t);
  });

  afterAll(async () => {
    await t.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  it('refuses private and loopback URLs at registration, and names resolving there at send time', async () => {
    for (const url of [
      'http://10.0.0.5/hooks',
      'http://192.168.1.10/hooks',
      'http://[fd12::1]/hooks',
      'http://127.0.0.1:8080/hooks',
      'http://localhost:8080/hooks',
    ]) {
      const res = await t.http.post('/v1/gateways', { name: 'internal', url, environments: ['production'] }, t.adminToken);
      expect([url, res.status, res.body.errors?.[0]?.field]).toEqual([url, 400, 'url']);
    }
    expect(await countGateways(t)).toBe(0);

    const receiver = await GatewayReceiver.start();
    receivers.push(receiver);
    resolver.answer('gw.corp.test', ['127.0.0.1']);
    const res = await t.http.post(
      '/v1/gateways',
      { name: 'corp', url: `http://gw.corp.test:${new URL(receiver.url).port}/events`, environments: ['production'] },
      t.adminToken,
    );
    expect(res.status).toBe(201);
    const { product, agent } = await f.world();
    await f.credential(agent.id, [`${product.name}:read`]);
    const [delivery] = await eventually(
      async () => {
        const items = (await t.http.get(`/v1/gateways/${res.body.gateway.id}/deliveries`, t.adminToken)).body.items;
        return items.length && items[0].status === 'failed' ? items : null;
      },
      10_000,
      'the delivery to fail',
    );
    expect(delivery.lastError).toBe(
      'destination refused: gw.corp.test resolves to 127.0.0.1, a loopback address, and GATEWAY_ALLOW_LOOPBACK is false',
    );
    expect(receiver.received).toHaveLength(0);
  });
});
