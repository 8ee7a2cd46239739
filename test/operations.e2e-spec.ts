import { Fixtures } from './support/fixtures';
import { startTestApp, TestApp } from './support/test-app';

describe('operations endpoints', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('liveness and readiness report database, redis and the local store', async () => {
    expect((await t.http.get('/health')).body).toEqual({ status: 'ok' });
    const ready = await t.http.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      status: 'ok',
      checks: { database: { status: 'up' }, redis: { status: 'up' }, 'store:local': { status: 'up' } },
    });
  });

  it('metrics expose the HTTP histogram by route template and status, and process metrics', async () => {
    const f = new Fixtures(t);
    const owner = await f.owner();
    await t.http.get(`/v1/owners/${owner.id}`, f.admin);
    await t.http.get('/v1/owners/00000000-0000-4000-8000-000000000000', f.admin);
    const metrics = await t.http.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(metrics.text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/v1\/owners\/:id",status_code="200"\} 1/);
    expect(metrics.text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/v1\/owners\/:id",status_code="404"\} 1/);
    expect(metrics.text).toMatch(/http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/v1\/owners",status_code="201"\}/);
    expect(metrics.text).toContain('process_resident_memory_bytes');
    expect(metrics.text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('echoes a sane x-request-id and replaces an unsafe one', async () => {
    const given = await t.http.request('GET', '/health', undefined, { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const unsafe = await t.http.request('GET', '/health', undefined, { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves the OpenAPI document with every route and field of the contract', async () => {
    const doc = await t.http.get('/docs-json');
    expect(doc.status).toBe(200);
    const paths = doc.body.paths as Record<string, Record<string, unknown>>;
    const expected: Array<[string, string]> = [
      ['/v1/tokens', 'post'],
      ['/v1/tokens', 'get'],
      ['/v1/tokens/{id}', 'delete'],
      ['/v1/owners', 'post'],
      ['/v1/owners', 'get'],
      ['/v1/owners/{id}', 'get'],
      ['/v1/owners/{id}', 'patch'],
      ['/v1/products', 'post'],
      ['/v1/products', 'get'],
      ['/v1/products/{id}', 'get'],
      ['/v1/agents', 'post'],
      ['/v1/agents', 'get'],
      ['/v1/agents/{id}', 'get'],
      ['/v1/agents/{id}', 'patch'],
      ['/v1/credentials', 'post'],
      ['/v1/credentials', 'get'],
      ['/v1/credentials/{id}', 'get'],
      ['/v1/credentials/{id}', 'patch'],
      ['/v1/credentials/{id}/approve', 'post'],
      ['/v1/credentials/{id}/reject', 'post'],
      ['/v1/credentials/{id}/claim', 'post'],
      ['/v1/audit-events', 'get'],
      ['/v1/audit-events/verify', 'get'],
    ];
    for (const [path, method] of expected) expect(paths[path]?.[method]).toBeDefined();

    const schemas = doc.body.components.schemas as Record<string, { properties: Record<string, unknown>; required?: string[] }>;
    /** What a client gives when issuing a credential; a credential shows these and what the service adds. */
    const createFields = [
      'agentId',
      'type',
      'environment',
      'scopes',
      'rateLimit',
      'ipAllowlist',
      'secretStore',
      'rotationIntervalDays',
      'gracePeriodHours',
    ];
    const credentialFields = [
      ...createFields,
      'id',
      'clientId',
      'ownerId',
      'secretRef',
      'secretVersion',
      'status',
      'lastRotatedAt',
      'nextRotationAt',
      'lastUsedAt',
      'createdAt',
      'revokedAt',
      'revokedReason',
    ];
    expect(Object.keys(schemas.CredentialDto.properties)).toEqual(expect.arrayContaining(credentialFields));
    expect(Object.keys(schemas.CreateCredentialDto.properties).sort()).toEqual([...createFields].sort());
    expect(schemas.CreateCredentialDto.required).toEqual(expect.arrayContaining(['agentId', 'type', 'environment', 'scopes', 'rateLimit']));
    expect(Object.keys(schemas.AuditEventDto.properties).sort()).toEqual(
      ['id', 'seq', 'at', 'actor', 'action', 'targetType', 'targetId', 'requestId', 'data', 'hash', 'prevHash'].sort(),
    );
    expect(Object.keys(schemas.ChainVerificationDto.properties)).toEqual(
      expect.arrayContaining(['count', 'firstBrokenSeq', 'headHash', 'valid']),
    );
    expect(Object.keys(schemas.CreatedTokenDto.properties)).toEqual(expect.arrayContaining(['id', 'name', 'role', 'ownerId', 'token']));
    expect(doc.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });

    const ui = await t.http.get('/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
  });
});
