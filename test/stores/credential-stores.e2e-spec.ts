import type { AwsSecretsManagerDouble } from '../doubles/aws-secrets-manager-double';
import { resetStoreDoubles } from '../doubles/store-doubles-env';
import type { VaultDouble } from '../doubles/vault-double';
import { credentialBody, Fixtures } from '../support/fixtures';
import { startStoreDoublesApp, StoreDoublesApp } from '../support/store-doubles-app';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Per-credential secret stores through the public API, with the real app on
 * the real Postgres and Redis, and Vault and Secrets Manager as doubles.
 */
describe('credentials in Vault and AWS Secrets Manager (HTTP)', () => {
  let s: StoreDoublesApp;
  let vault: VaultDouble;
  let aws: AwsSecretsManagerDouble;
  let t: TestApp;
  let f: Fixtures;
  let world: StoreDoublesApp['world'];
  const issued: string[] = [];

  const body = (overrides: Record<string, unknown> = {}) => credentialBody(world.agent.id, [`${world.product.name}:read`], overrides);

  async function credentialRows(agentId: string): Promise<number> {
    const [row] = await t.dataSource.query('SELECT count(*)::int AS n FROM credentials WHERE agent_id = $1', [agentId]);
    return row.n;
  }

  function expectUnavailableProblem(r: { status: number; headers: Headers; body: any }, store: string): void {
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body).toMatchObject({ status: 503, code: 'SECRET_STORE_UNAVAILABLE', title: 'Service Unavailable' });
    expect(r.body.detail).toContain(`Secret store ${store} is unavailable`);
  }

  beforeAll(async () => {
    s = await startStoreDoublesApp({ SECRET_STORE_DEFAULT: 'vault', SECRET_STORE_TIMEOUT_MS: '500' });
    ({ vault, aws, t, f, world } = s);
  });
  afterAll(() => s?.close());
  afterEach(() => resetStoreDoubles(vault, aws));

  it('issues into Vault: secretRef is the KV path, the secret is version 1 there, with custom_metadata', async () => {
    const r = await t.http.post('/v1/credentials', body({ secretStore: 'vault' }), f.admin);
    expect(r.status).toBe(201);
    issued.push(r.body.secret);
    const { credential } = r.body;
    const path = `agents/${world.agent.id}/${credential.id}`;
    expect(credential).toMatchObject({ secretStore: 'vault', secretRef: `secret/data/${path}`, secretVersion: 1 });
    const key = vault.key(path)!;
    expect(key.versions.get(1)!.data).toEqual({ secret: r.body.secret });
    expect(key.customMetadata).toMatchObject({ credential_id: credential.id, owner_id: world.owner.id, current_version: '1' });
    const read = await t.http.get(`/v1/credentials/${credential.id}`, f.admin);
    expect(read.body.secretRef).toBe(`secret/data/${path}`);
  });

  it('issues into AWS Secrets Manager: secretRef is the ARN, the secret is AWSCURRENT, the secret is tagged', async () => {
    const r = await t.http.post('/v1/credentials', body({ secretStore: 'aws' }), f.admin);
    expect(r.status).toBe(201);
    issued.push(r.body.secret);
    const { credential } = r.body;
    const secret = aws.secret(`agents/${world.agent.id}/${credential.id}`)!;
    expect(credential).toMatchObject({ secretStore: 'aws', secretRef: secret.arn });
    expect(credential.secretRef).toMatch(/^arn:aws:secretsmanager:us-east-1:\d{12}:secret:agents\//);
    const current = [...secret.versions.values()].find((v) => v.stages.has('AWSCURRENT'))!;
    expect(current.value).toBe(r.body.secret);
    expect(secret.tags.get('credential_id')).toBe(credential.id);
    expect(secret.tags.get('environment')).toBe('production');
  });

  it('uses SECRET_STORE_DEFAULT when secretStore is omitted', async () => {
    const r = await t.http.post('/v1/credentials', body(), f.admin);
    expect(r.status).toBe(201);
    issued.push(r.body.secret);
    expect(r.body.credential.secretStore).toBe('vault');
  });

  it('answers an unknown store with 400 naming secretStore, storing nothing', async () => {
    const before = await credentialRows(world.agent.id);
    const r = await t.http.post('/v1/credentials', body({ secretStore: 'keepass' }), f.admin);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body.errors.map((e: { field: string }) => e.field)).toContain('secretStore');
    expect(await credentialRows(world.agent.id)).toBe(before);
  });

  it('answers 503 while Vault is sealed, leaving no credential row and no secret; readiness names vault', async () => {
    const agent = await f.agent(world.owner.id);
    vault.seal();
    const r = await t.http.post('/v1/credentials', body({ agentId: agent.id, secretStore: 'vault' }), f.admin);
    expectUnavailableProblem(r, 'vault');
    expect(r.body.detail).toMatch(/sealed/);
    expect(await credentialRows(agent.id)).toBe(0);
    expect(vault.keys().filter((k) => k.includes(agent.id))).toEqual([]);

    const ready = await t.http.get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks['store:vault']).toEqual({ status: 'down', error: expect.stringMatching(/vault.*sealed/) });
    expect(ready.body.checks['store:aws']).toEqual({ status: 'up' });
    expect(ready.body.checks['store:local']).toEqual({ status: 'up' });
    vault.unseal();
    expect((await t.http.get('/health/ready')).status).toBe(200);
  });

  it('answers 503 when Vault applies the write but every answer is lost, and removes the orphaned secret', async () => {
    const agent = await f.agent(world.owner.id);
    vault.faults.dropNext(10, { afterApplying: true, match: (c) => c.operation.startsWith('POST secret/data/') });
    const r = await t.http.post('/v1/credentials', body({ agentId: agent.id, secretStore: 'vault' }), f.admin);
    expect(r.status).toBe(503);
    expect(r.body.detail).toMatch(/vault.*unreachable/);
    expect(await credentialRows(agent.id)).toBe(0);
    // The write reached Vault; the service must have cleaned it up again.
    expect(vault.count(new RegExp(`POST secret/data/agents/${agent.id}/`))).toBeGreaterThan(0);
    expect(vault.keys().filter((k) => k.includes(agent.id))).toEqual([]);
  });

  it('answers 503 when Secrets Manager creates the secret but every answer is lost, and deletes it again', async () => {
    const agent = await f.agent(world.owner.id);
    aws.faults.dropNext(10, { afterApplying: true, match: (c) => c.operation === 'secretsmanager.CreateSecret' });
    const r = await t.http.post('/v1/credentials', body({ agentId: agent.id, secretStore: 'aws' }), f.admin);
    expectUnavailableProblem(r, 'aws');
    expect(await credentialRows(agent.id)).toBe(0);
    expect(aws.count(/DeleteSecret/)).toBeGreaterThan(0);
    expect(aws.names().filter((n) => n.includes(agent.id))).toEqual([]);
  });

  it('answers 503 when Secrets Manager keeps throttling, after retries, leaving nothing behind; readiness names aws', async () => {
    const agent = await f.agent(world.owner.id);
    aws.faults.failNext(1000, 400, { type: 'ThrottlingException' });
    const before = aws.count(/CreateSecret/);
    const r = await t.http.post('/v1/credentials', body({ agentId: agent.id, secretStore: 'aws' }), f.admin);
    expectUnavailableProblem(r, 'aws');
    expect(r.body.detail).toMatch(/throttled \(ThrottlingException\) after 3 attempts/);
    expect(aws.count(/CreateSecret/) - before).toBe(3);
    expect(await credentialRows(agent.id)).toBe(0);
    expect(aws.names().filter((n) => n.includes(agent.id))).toEqual([]);

    const ready = await t.http.get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks['store:aws']).toMatchObject({ status: 'down', error: expect.stringContaining('Secret store aws') });
  });

  it('never writes an issued secret to a log line', () => {
    expect(issued.length).toBeGreaterThanOrEqual(3);
    const logs = t.logs.text();
    for (const secret of issued) expect(logs).not.toContain(secret);
  });

  describe('on a service with only the local store', () => {
    let local: TestApp;
    beforeAll(async () => {
      local = await startTestApp();
    });
    afterAll(() => local?.close());

    it.each(['vault', 'aws'])('answers secretStore "%s" with 400 naming the field, storing nothing', async (store) => {
      const lf = new Fixtures(local);
      const { product, agent } = await lf.world();
      const r = await local.http.post(
        '/v1/credentials',
        credentialBody(agent.id, [`${product.name}:read`], {
          environment: 'sandbox',
          rateLimit: { requests: 1, perSeconds: 1 },
          secretStore: store,
        }),
        lf.admin,
      );
      expect(r.status).toBe(400);
      expect(r.body.errors).toEqual([{ field: 'secretStore', message: `names store ${store}, which is not configured on this service` }]);
      const [row] = await local.dataSource.query('SELECT count(*)::int AS n FROM credentials WHERE agent_id = $1', [agent.id]);
      expect(row.n).toBe(0);
    });
  });
});
