import nodeVault from 'node-vault';

import { VaultDouble } from './vault-double';

/**
 * Proves the Vault double against docs/protocols.md "HashiCorp Vault, KV secrets engine v2"
 * by driving it with the real client (node-vault), so adapter tests against it mean something.
 */
describe('Vault double (KV v2, token and AppRole auth, through node-vault)', () => {
  const role = { roleId: 'role-id-1', secretId: 'secret-id-1', tokenTtl: 60, tokenMaxTtl: 100 };
  let vault: VaultDouble;
  let client: ReturnType<typeof nodeVault>;
  let n = 0;
  const key = () => `agents/a/${++n}`;

  beforeAll(async () => {
    vault = await new VaultDouble({ appRoles: [role] }).start();
  });
  afterAll(() => vault.stop());
  beforeEach(() => {
    vault.faults.clear();
    vault.unseal();
    client = nodeVault({ endpoint: vault.url, token: vault.rootToken, noCustomHTTPVerbs: true });
  });

  async function failure(promise: Promise<unknown>): Promise<{ statusCode?: number; body?: any; message: string; code?: string }> {
    try {
      await promise;
    } catch (error) {
      const e = error as { response?: { statusCode: number; body: any }; message: string; code?: string };
      return { statusCode: e.response?.statusCode, body: e.response?.body, message: e.message, code: e.code };
    }
    throw new Error('expected the call to fail');
  }

  describe('sys/health', () => {
    it('answers 200 when active, 503 sealed, 429 standby, without a token', async () => {
      const anonymous = nodeVault({ endpoint: vault.url });
      expect(await anonymous.health()).toMatchObject({ initialized: true, sealed: false, standby: false });
      vault.seal();
      const sealed = await fetch(`${vault.url}/v1/sys/health`);
      expect(sealed.status).toBe(503);
      expect(await anonymous.health()).toMatchObject({ initialized: true, sealed: true });
      vault.unseal();
      vault.setStandby(true);
      expect((await fetch(`${vault.url}/v1/sys/health`)).status).toBe(429);
      vault.setStandby(false);
    });
  });

  describe('errors and auth', () => {
    it('answers a bad token with 403 "permission denied" and "invalid token"', async () => {
      const bad = nodeVault({ endpoint: vault.url, token: 'hvs.not-a-token' });
      const f = await failure(bad.read('secret/data/x'));
      expect(f.statusCode).toBe(403);
      expect(f.message).toContain('permission denied');
      expect(f.message).toContain('invalid token');
    });

    it('answers a missing token with 403 permission denied', async () => {
      const res = await fetch(`${vault.url}/v1/secret/data/x`);
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ errors: ['permission denied'] });
    });

    it('accepts Authorization: Bearer as well as X-Vault-Token', async () => {
      const res = await fetch(`${vault.url}/v1/auth/token/lookup-self`, { headers: { authorization: `Bearer ${vault.rootToken}` } });
      expect(res.status).toBe(200);
    });

    it('denies paths outside a token policy with 403', async () => {
      const limited = nodeVault({ endpoint: vault.url, token: vault.createToken({ allow: /^auth\/token\// }) });
      const f = await failure(limited.read('secret/data/x'));
      expect(f.statusCode).toBe(403);
      expect(f.message).toContain('permission denied');
      expect(f.message).not.toContain('invalid token');
    });

    it('answers an unmounted path with 404 and an error string', async () => {
      const f = await failure(client.read('nope/data/x'));
      expect(f.statusCode).toBe(404);
      expect(f.body.errors[0]).toContain('no handler for route');
    });

    it('logs in with AppRole, and refuses wrong ids with 400 "invalid role or secret ID"', async () => {
      const c = nodeVault({ endpoint: vault.url });
      const f = await failure(c.approleLogin({ role_id: role.roleId, secret_id: 'wrong' }));
      expect(f.statusCode).toBe(400);
      expect(f.message).toBe('invalid role or secret ID');
      const login = await c.approleLogin({ role_id: role.roleId, secret_id: role.secretId });
      expect(login.auth).toMatchObject({ lease_duration: 60, renewable: true });
      expect(c.token).toBe(login.auth.client_token);
      const self = await c.tokenLookupSelf();
      expect(self.data.ttl).toBeGreaterThan(55);
      expect(self.data.renewable).toBe(true);
    });

    it('renews a token up to its max TTL, refuses a non-renewable one, and forgets revoked and expired ones', async () => {
      const token = vault.createToken({ ttl: 60, maxTtl: 90, renewable: true });
      const c = nodeVault({ endpoint: vault.url, token });
      const renewed = await c.tokenRenewSelf({ increment: 3600 });
      expect(renewed.auth.lease_duration).toBeLessThanOrEqual(90);
      expect(renewed.auth.lease_duration).toBeGreaterThan(85);
      expect(renewed.warnings[0]).toContain('max_ttl');

      const fixed = nodeVault({ endpoint: vault.url, token: vault.createToken({ ttl: 60, renewable: false }) });
      const refused = await failure(fixed.tokenRenewSelf({}));
      expect(refused.statusCode).toBe(400);
      expect(refused.message).toContain('lease is not renewable');

      vault.revokeToken(token);
      expect((await failure(c.tokenLookupSelf())).statusCode).toBe(403);
      const expiring = vault.createToken({ ttl: 60 });
      vault.expireToken(expiring);
      expect((await failure(nodeVault({ endpoint: vault.url, token: expiring }).tokenLookupSelf())).statusCode).toBe(403);
    });

    it('lets token TTLs run out when its clock is moved on', async () => {
      const token = vault.createToken({ ttl: 60 });
      const c = nodeVault({ endpoint: vault.url, token });
      expect((await c.tokenLookupSelf()).data.ttl).toBeGreaterThan(55);
      vault.advanceTime(30_000);
      expect((await c.tokenLookupSelf()).data.ttl).toBeLessThanOrEqual(30);
      vault.advanceTime(31_000);
      expect((await failure(c.tokenLookupSelf())).statusCode).toBe(403);
    });

    it('reports a root token as non-expiring (ttl 0)', async () => {
      const self = await client.tokenLookupSelf();
      expect(self.data).toMatchObject({ ttl: 0, renewable: false, policies: ['root'] });
    });
  });

  describe('KV v2', () => {
    it('writes versions and reads each, with the success envelope', async () => {
      const path = key();
      const first = await client.write(`secret/data/${path}`, { data: { secret: 'one' } });
      expect(first).toMatchObject({ lease_id: '', renewable: false, lease_duration: 0, wrap_info: null, auth: null });
      expect(first.data).toMatchObject({ version: 1, deletion_time: '', destroyed: false });
      expect(typeof first.request_id).toBe('string');
      await client.write(`secret/data/${path}`, { data: { secret: 'two' } });
      const latest = await client.read(`secret/data/${path}`);
      expect(latest.data.data).toEqual({ secret: 'two' });
      expect(latest.data.metadata.version).toBe(2);
      const v1 = await client.read(`secret/data/${path}?version=1`);
      expect(v1.data.data).toEqual({ secret: 'one' });
    });

    it('refuses a write without data (400 "no data provided")', async () => {
      const f = await failure(client.write(`secret/data/${key()}`, { options: {} }));
      expect(f.statusCode).toBe(400);
      expect(f.message).toBe('no data provided');
    });

    it('enforces check-and-set: cas must equal the current version (0 for a new key)', async () => {
      const path = key();
      const mismatch = await failure(client.write(`secret/data/${path}`, { options: { cas: 1 }, data: { a: '1' } }));
      expect(mismatch.statusCode).toBe(400);
      expect(mismatch.message).toBe('check-and-set parameter did not match the current version');
      await client.write(`secret/data/${path}`, { options: { cas: 0 }, data: { a: '1' } });
      expect((await failure(client.write(`secret/data/${path}`, { options: { cas: 0 }, data: { a: '2' } }))).statusCode).toBe(400);
      const second = await client.write(`secret/data/${path}`, { options: { cas: 1 }, data: { a: '2' } });
      expect(second.data.version).toBe(2);
      const meta = await client.read(`secret/metadata/${path}`);
      expect(meta.data.current_version).toBe(2);
    });

    it('requires cas once cas_required is set', async () => {
      const path = key();
      await client.write(`secret/metadata/${path}`, { cas_required: true });
      const f = await failure(client.write(`secret/data/${path}`, { data: { a: '1' } }));
      expect(f.statusCode).toBe(400);
      expect(f.message).toContain('check-and-set parameter required');
    });

    it('answers missing keys and versions with 404 {"errors":[]}', async () => {
      const path = key();
      const missing = await failure(client.read(`secret/data/${path}`));
      expect(missing.statusCode).toBe(404);
      expect(missing.body).toEqual({ errors: [] });
      await client.write(`secret/data/${path}`, { data: { a: '1' } });
      const noVersion = await failure(client.read(`secret/data/${path}?version=7`));
      expect(noVersion.statusCode).toBe(404);
      expect(noVersion.body).toEqual({ errors: [] });
    });

    it('answers deleted and destroyed versions with a success-shaped 404 (data null, metadata filled)', async () => {
      const path = key();
      await client.write(`secret/data/${path}`, { data: { a: '1' } });
      await client.write(`secret/data/${path}`, { data: { a: '2' } });
      await client.write(`secret/delete/${path}`, { versions: [1] });
      const deleted = await failure(client.read(`secret/data/${path}?version=1`));
      expect(deleted.statusCode).toBe(404);
      expect(deleted.body.data.data).toBeNull();
      expect(deleted.body.data.metadata.deletion_time).not.toBe('');
      expect(deleted.body.data.metadata.destroyed).toBe(false);

      await client.write(`secret/undelete/${path}`, { versions: [1] });
      expect((await client.read(`secret/data/${path}?version=1`)).data.data).toEqual({ a: '1' });

      await client.write(`secret/destroy/${path}`, { versions: [1] });
      const destroyed = await failure(client.read(`secret/data/${path}?version=1`));
      expect(destroyed.statusCode).toBe(404);
      expect(destroyed.body.data).toMatchObject({ data: null, metadata: { destroyed: true, version: 1 } });
      await client.write(`secret/undelete/${path}`, { versions: [1] });
      expect((await failure(client.read(`secret/data/${path}?version=1`))).statusCode).toBe(404);

      // DELETE on data soft-deletes the latest version.
      await client.delete(`secret/data/${path}`);
      expect((await failure(client.read(`secret/data/${path}`))).body.data.metadata.version).toBe(2);
    });

    it('refuses delete/undelete/destroy with no versions (400) and answers 204 for missing keys', async () => {
      for (const op of ['delete', 'undelete', 'destroy']) {
        expect((await failure(client.write(`secret/${op}/${key()}`, { versions: [] }))).statusCode).toBe(400);
        const res = await fetch(`${vault.url}/v1/secret/${op}/${key()}`, {
          method: 'POST',
          headers: { 'x-vault-token': vault.rootToken, 'content-type': 'application/json' },
          body: JSON.stringify({ versions: [1] }),
        });
        expect(res.status).toBe(204);
      }
    });

    it('keeps metadata: versions by string key, custom_metadata, max_versions; metadata writes make no version', async () => {
      const path = key();
      await client.write(`secret/data/${path}`, { data: { a: '1' } });
      await client.write(`secret/metadata/${path}`, { max_versions: 2, custom_metadata: { credential_id: 'c1' } });
      let meta = (await client.read(`secret/metadata/${path}`)).data;
      expect(meta).toMatchObject({ current_version: 1, max_versions: 2, cas_required: false, custom_metadata: { credential_id: 'c1' } });
      expect(Object.keys(meta.versions)).toEqual(['1']);
      expect(meta.versions['1']).toMatchObject({ deletion_time: '', destroyed: false });

      const written = await client.write(`secret/data/${path}`, { data: { a: '2' } });
      expect(written.data.custom_metadata).toEqual({ credential_id: 'c1' });
      await client.write(`secret/data/${path}`, { data: { a: '3' } });
      meta = (await client.read(`secret/metadata/${path}`)).data;
      expect(Object.keys(meta.versions).sort()).toEqual(['2', '3']);
      expect(meta.oldest_version).toBe(2);
      expect((await failure(client.read(`secret/data/${path}?version=1`))).body).toEqual({ errors: [] });

      const bad = await failure(client.write(`secret/metadata/${path}`, { custom_metadata: { n: 1 } }));
      expect(bad.statusCode).toBe(400);
    });

    it('deletes metadata with every version (204, also when missing)', async () => {
      const path = key();
      await client.write(`secret/data/${path}`, { data: { a: '1' } });
      await client.delete(`secret/metadata/${path}`);
      expect((await failure(client.read(`secret/metadata/${path}`))).statusCode).toBe(404);
      expect((await failure(client.read(`secret/data/${path}?version=1`))).statusCode).toBe(404);
      await client.delete(`secret/metadata/${path}`);
    });

    it('lists keys with GET ?list=1 (noCustomHTTPVerbs), 404 when empty', async () => {
      await client.write('secret/data/listing/x/one', { data: { a: '1' } });
      await client.write('secret/data/listing/two', { data: { a: '1' } });
      const listed = await client.list('secret/metadata/listing');
      expect(listed.data.keys).toEqual(['two', 'x/']);
      expect((await failure(client.list('secret/metadata/nothing-here'))).statusCode).toBe(404);
    });

    it('keeps namespaces apart (X-Vault-Namespace)', async () => {
      const path = key();
      const teamA = nodeVault({ endpoint: vault.url, token: vault.rootToken, namespace: 'team-a' });
      await teamA.write(`secret/data/${path}`, { data: { a: '1' } });
      expect((await teamA.read(`secret/data/${path}`)).data.data).toEqual({ a: '1' });
      expect((await failure(client.read(`secret/data/${path}`))).statusCode).toBe(404);
      expect(vault.calls.at(-2)?.headers['x-vault-namespace']).toBe('team-a');
    });
  });

  describe('sealing and faults', () => {
    it('answers 503 "Vault is sealed" to everything but sys/health while sealed', async () => {
      vault.seal();
      const f = await failure(client.read(`secret/data/${key()}`));
      expect(f.statusCode).toBe(503);
      expect(f.message).toBe('Vault is sealed');
      vault.unseal();
      await client.write(`secret/data/${key()}`, { data: { a: '1' } });
    });

    it('fails the next N calls with the given status, then recovers', async () => {
      vault.faults.failNext(2, 500);
      expect((await failure(client.read(`secret/data/${key()}`))).statusCode).toBe(500);
      const throttled = vault.faults.failNext(1, 429);
      expect(throttled).toBe(vault.faults);
      expect((await failure(client.read(`secret/data/${key()}`))).statusCode).toBe(500);
      expect((await failure(client.read(`secret/data/${key()}`))).statusCode).toBe(429);
      expect((await failure(client.read(`secret/data/${key()}`))).statusCode).toBe(404);
    });

    it('matches faults to chosen calls only', async () => {
      vault.faults.failNext(1, 503, { match: (c) => c.operation.startsWith('POST secret/data/') });
      const path = key();
      expect((await failure(client.read(`secret/data/${path}`))).statusCode).toBe(404);
      expect((await failure(client.write(`secret/data/${path}`, { data: { a: '1' } }))).statusCode).toBe(503);
      await client.write(`secret/data/${path}`, { data: { a: '1' } });
    });

    it('drops the connection before or after applying the request', async () => {
      const path = key();
      vault.faults.dropNext(1);
      const before = await failure(client.write(`secret/data/${path}`, { data: { a: '1' } }));
      expect(before.statusCode).toBeUndefined();
      expect(vault.key(path)).toBeUndefined();
      vault.faults.dropNext(1, { afterApplying: true });
      const after = await failure(client.write(`secret/data/${path}`, { data: { a: '1' } }));
      expect(after.statusCode).toBeUndefined();
      expect(vault.key(path)?.currentVersion).toBe(1);
    });

    it('adds latency to every call', async () => {
      vault.faults.latencyMs = 150;
      const started = performance.now();
      await client.tokenLookupSelf();
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    });
  });
});
