import { Client } from 'pg';

import { closeAppBehindProxy, startAppBehindProxy } from './support/app-behind-proxy';
import { TEST_PG_URL } from './support/env';
import { Fixtures } from './support/fixtures';
import { eventually } from './support/gateway-receiver';
import type { HttpResult } from './support/http';
import { expectProblem } from './support/problem';
import type { TcpProxy } from './support/tcp-proxy';
import type { TestApp } from './support/test-app';

/**
 * While Postgres cannot be reached, the API answers 503 problem+json with
 * Retry-After (clients and load balancers retry), never 500; once it is back,
 * the same requests succeed without a restart. The app talks to its own
 * database through a TCP proxy the test cuts (a host gone: connections reset,
 * new ones refused), and then through Postgres itself refusing (backends
 * terminated, the database closed to connections).
 */
describe('database outage', () => {
  let t: TestApp;
  let f: Fixtures;
  let proxy: TcpProxy;
  let admin: Client;
  let ownerToken: string;
  let agent: any;
  let credentialId: string;

  beforeAll(async () => {
    ({ t, proxy } = await startAppBehindProxy());
    f = new Fixtures(t);
    const world = await f.world();
    agent = world.agent;
    ownerToken = (await f.token('owner', world.owner.id)).token;
    credentialId = (await f.credential(agent.id, [`${world.product.name}:read`])).credential.id;
    admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
  });

  afterAll(async () => {
    await admin.query(`ALTER DATABASE ${t.database.name} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin.end();
    await closeAppBehindProxy(t, proxy);
  });

  /** Requests of every kind: reads, writes, the emergency revocation, a token looked up in the database. */
  const requests = (): Array<[string, () => Promise<HttpResult>]> => [
    ['GET /v1/owners', () => t.http.get('/v1/owners', t.adminToken)],
    ['GET /v1/credentials/:id', () => t.http.get(`/v1/credentials/${credentialId}`, t.adminToken)],
    ['GET /v1/audit-events', () => t.http.get('/v1/audit-events', t.adminToken)],
    [
      'POST /v1/owners',
      () => t.http.post('/v1/owners', { name: 'during outage', email: 'outage@example.com', kind: 'team' }, t.adminToken),
    ],
    ['PATCH /v1/agents/:id', () => t.http.patch(`/v1/agents/${agent.id}`, { description: 'during outage' }, t.adminToken)],
    [
      'POST /v1/credentials/:id/revoke',
      () => t.http.post(`/v1/credentials/${credentialId}/revoke`, { reason: 'during outage' }, t.adminToken),
    ],
    ['GET /v1/agents (owner token)', () => t.http.get('/v1/agents', ownerToken)],
  ];

  async function expectUnavailable(): Promise<void> {
    for (const [what, send] of requests()) {
      const res = await send();
      try {
        expectProblem(res, 503);
        expect(res.body.code).toBe('DATABASE_UNAVAILABLE');
        expect(res.headers.get('retry-after')).toBe('5');
      } catch (error) {
        throw new Error(`${what}: ${(error as Error).message}\n${res.text}`);
      }
    }
    expect((await t.http.get('/health/ready')).status).toBe(503);
  }

  async function expectRecovered(): Promise<void> {
    await eventually(async () => (await t.http.get('/v1/owners', t.adminToken)).status === 200, 15_000, 'the API answering again');
    for (const [what, send] of requests().filter(([w]) => !w.includes('revoke') && !w.startsWith('POST'))) {
      const res = await send();
      if (res.status !== 200) throw new Error(`${what} after recovery: ${res.status} ${res.text}`);
    }
    expect((await t.http.get('/health/ready')).status).toBe(200);
  }

  it('answers 503 with Retry-After while the database host is gone, and recovers when it is back', async () => {
    expect((await t.http.get('/v1/owners', t.adminToken)).status).toBe(200);
    await proxy.stop();
    await expectUnavailable();
    await proxy.resume();
    await expectRecovered();
    expect((await t.http.get(`/v1/credentials/${credentialId}`, t.adminToken)).body.status).toBe('active');
  });

  it('answers 503 while Postgres terminates the connections and refuses new ones, and recovers', async () => {
    const name = t.database.name;
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await expectUnavailable();
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await expectRecovered();

    // The emergency path works again at once: the revocation goes through.
    const revoked = await t.http.post(`/v1/credentials/${credentialId}/revoke`, { reason: 'after the outage' }, t.adminToken);
    expect(revoked.status).toBe(202);
    expect((await t.http.get(`/v1/credentials/${credentialId}`, t.adminToken)).body.status).toBe('revoked');
  });

  it('logged no 500 and no request failure with a stack', () => {
    expect(t.logs.lines.filter((line) => /"statusCode":500/.test(line))).toEqual([]);
    const unavailable = t.logs.lines.filter((line) => line.includes('dependency unavailable'));
    expect(unavailable.length).toBeGreaterThanOrEqual(requests().length * 2);
  });
});
