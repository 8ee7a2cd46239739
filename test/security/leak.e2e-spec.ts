import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

const run = promisify(execFile);

/**
 * After a run that issues, approves and claims secrets and creates tokens, no
 * plaintext secret or token may be found in a pg_dump of the database, in the
 * captured logs, or in the audit table.
 */
describe('no plaintext secrets at rest or in logs', () => {
  let t: TestApp;
  const secrets: string[] = [];
  const tokens: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'debug' } });
    const f = new Fixtures(t);
    const { owner, product, agent } = await f.world();
    const ownerToken = await f.token('owner', owner.id);
    const secondAdmin = await f.token('admin');
    tokens.push(ownerToken.token, secondAdmin.token, t.adminToken);
    for (let i = 0; i < 10; i++) {
      const issued = await f.credential(
        agent.id,
        [`${product.name}:read`],
        { environment: i % 2 ? 'sandbox' : 'production' },
        ownerToken.token,
      );
      secrets.push(issued.secret!);
    }
    for (let i = 0; i < 3; i++) {
      const pending = await f.credential(agent.id, [`${product.name}:delete`], {}, ownerToken.token);
      expect((await t.http.post(`/v1/credentials/${pending.credential.id}/approve`, undefined, secondAdmin.token)).status).toBe(200);
      const claimed = await t.http.post(`/v1/credentials/${pending.credential.id}/claim`, undefined, ownerToken.token);
      expect(claimed.status).toBe(200);
      secrets.push(claimed.body.secret);
    }
    // Requests that fail, with tokens in headers, also get logged.
    await t.http.get('/v1/owners', 'agt_' + 'x'.repeat(43));
    await t.http.post('/v1/credentials', { agentId: agent.id, secret: secrets[0] }, ownerToken.token);
    expect(secrets).toHaveLength(13);
  });
  afterAll(() => t.close());

  const findings = (haystack: string) => [...secrets, ...tokens].filter((s) => haystack.includes(s));

  it('pg_dump of the whole database holds none of them', async () => {
    const { stdout } = await run('pg_dump', ['--data-only', '--no-owner', t.database.url], { maxBuffer: 256 * 1024 * 1024 });
    expect(stdout).toContain('local_secret_versions');
    expect(stdout.length).toBeGreaterThan(10_000);
    expect(findings(stdout)).toEqual([]);
    // Not even the random part without its prefix, nor the store key.
    expect(secrets.filter((s) => stdout.includes(s.slice(9, 9 + 43)))).toEqual([]);
    expect(stdout).not.toContain(t.env.LOCAL_STORE_KEY!);
  });

  it('the captured logs hold none of them, and the authorization header is redacted', () => {
    const logs = t.logs.text();
    expect(t.logs.lines.length).toBeGreaterThan(20);
    expect(findings(logs)).toEqual([]);
    expect(logs).toContain('"authorization":"[REDACTED]"');
    expect(logs).not.toMatch(/Bearer /);
    // Every request line carries its request id.
    const requestLines = t.logs.lines.map((l) => JSON.parse(l)).filter((l) => l.req);
    expect(requestLines.length).toBeGreaterThan(10);
    for (const line of requestLines) expect(line.req.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('the audit table holds none of them', async () => {
    const rows = await t.dataSource.query('SELECT * FROM audit_events');
    expect(rows.length).toBeGreaterThan(20);
    expect(findings(JSON.stringify(rows))).toEqual([]);
  });
});
