import { createHash } from 'node:crypto';

import { isWellFormedSecret } from '../../src/inventory/credential-secret';
import { Fixtures } from '../support/fixtures';
import { expectProblem } from '../support/problem';
import { startTestApp, TestApp } from '../support/test-app';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const DAY = 24 * 3600 * 1000;

describe('credentials', () => {
  let t: TestApp;
  let f: Fixtures;
  let world: { owner: any; product: any; agent: any };

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    world = await f.world();
  });
  afterAll(() => t.close());

  describe('issuance with read/write scopes', () => {
    it('is active at once and shows the secret once', async () => {
      const p = world.product.name;
      const issued = await f.credential(world.agent.id, [`${p}:read`, `${p}:write`], {
        environment: 'sandbox',
        ipAllowlist: ['10.0.0.0/8', '2001:DB8::/32'],
        rotationIntervalDays: 30,
        gracePeriodHours: 2,
      });
      expect(issued.status).toBe(201);
      const { credential, secret } = issued;
      expect(secret).toMatch(/^agk_test_/);
      expect(isWellFormedSecret(secret!)).toBe(true);
      expect(credential).toMatchObject({
        agentId: world.agent.id,
        ownerId: world.owner.id,
        type: 'api_key',
        environment: 'sandbox',
        scopes: [`${p}:read`, `${p}:write`],
        rateLimit: { requests: 100, perSeconds: 60 },
        ipAllowlist: ['10.0.0.0/8', '2001:db8::/32'],
        secretStore: 'local',
        secretRef: `local:${credential.id}`,
        secretVersion: 1,
        status: 'active',
        rotationIntervalDays: 30,
        gracePeriodHours: 2,
        lastRotatedAt: null,
        lastUsedAt: null,
        revokedAt: null,
      });
      expect(credential.clientId).toMatch(/^agc_[0-9a-f]{32}$/);
      const due = new Date(credential.nextRotationAt).getTime() - new Date(credential.createdAt).getTime();
      expect(due).toBeLessThanOrEqual(30 * DAY);
      expect(due).toBeGreaterThanOrEqual(30 * DAY * 0.99);

      // Never again through the API.
      const read = await t.http.get(`/v1/credentials/${credential.id}`, f.admin);
      expect(read.status).toBe(200);
      expect(read.text).not.toContain(secret);
      expect(read.body.secret).toBeUndefined();
      const claim = await t.http.post(`/v1/credentials/${credential.id}/claim`, undefined, f.admin);
      expect(claim.status).toBe(409);
      expect(claim.body.code).toBe('SECRET_ALREADY_CLAIMED');

      // The row keeps only where it lives and a hash; the store only ciphertext.
      const [row] = await t.dataSource.query('SELECT * FROM credentials WHERE id = $1', [credential.id]);
      expect(row.secret_sha256).toBe(sha256(secret!));
      expect(JSON.stringify(row)).not.toContain(secret);
      const versions = await t.dataSource.query('SELECT * FROM local_secret_versions WHERE credential_id = $1', [credential.id]);
      expect(versions).toHaveLength(1);
      expect(versions[0].ciphertext.toString('utf8')).not.toContain(secret!.slice(9, 30));
      expect(versions[0].state).toBe('current');
    });

    it('commits concurrent issuances together, each with its own row, secret, event and audit actor', async () => {
      const p = world.product.name;
      const owner = await f.token('owner', world.owner.id);
      const requests = Array.from({ length: 12 }, (_, i) => ({ token: i % 2 ? owner.token : f.admin, requestId: `issue-together-${i}` }));
      const answers = await Promise.all(
        requests.map(({ token, requestId }) =>
          t.http.request(
            'POST',
            '/v1/credentials',
            {
              agentId: world.agent.id,
              type: 'api_key',
              environment: 'production',
              scopes: [`${p}:read`],
              rateLimit: { requests: 5, perSeconds: 1 },
            },
            {
              token,
              headers: { 'x-request-id': requestId },
            },
          ),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(requests.map(() => 201));
      const ids = answers.map((a) => a.body.credential.id as string);
      expect(new Set(ids).size).toBe(ids.length);
      for (const a of answers) {
        const [row] = await t.dataSource.query('SELECT secret_sha256 FROM credentials WHERE id = $1', [a.body.credential.id]);
        expect(row.secret_sha256).toBe(sha256(a.body.secret));
      }
      const events = await t.dataSource.query(
        `SELECT target_id, request_id, actor->>'tokenId' AS token_id, actor->>'role' AS role FROM audit_events
          WHERE action = 'credential.created' AND target_id = ANY ($1)`,
        [ids],
      );
      expect(events).toHaveLength(ids.length);
      const byCredential = new Map(events.map((e: any) => [e.target_id, e]));
      requests.forEach((r, i) => {
        expect(byCredential.get(ids[i])).toMatchObject({ request_id: r.requestId, role: r.token === f.admin ? 'admin' : 'owner' });
        if (r.token === owner.token) expect(byCredential.get(ids[i])).toMatchObject({ token_id: owner.id });
      });
      const outbox = await t.dataSource.query(
        `SELECT credential_id FROM outbox_events WHERE type = 'credential.issued' AND credential_id = ANY ($1)`,
        [ids],
      );
      expect(outbox).toHaveLength(ids.length);
    });

    it('fails only the issuance that cannot commit, not the others committed with it', async () => {
      const p = world.product.name;
      const doomed = await f.agent(world.owner.id);
      // A real Postgres failure for one agent's rows only: the shared INSERT fails, and each goes again on its own.
      await t.dataSource.query(`
        CREATE FUNCTION refuse_doomed_agent() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.agent_id = '${doomed.id}' THEN RAISE EXCEPTION 'refused for the test'; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_doomed_agent BEFORE INSERT ON credentials FOR EACH ROW EXECUTE FUNCTION refuse_doomed_agent();`);
      try {
        const body = (agentId: string) => ({
          agentId,
          type: 'api_key',
          environment: 'production',
          scopes: [`${p}:read`],
          rateLimit: { requests: 5, perSeconds: 1 },
        });
        const agents = [world.agent.id, doomed.id, world.agent.id, world.agent.id, doomed.id, world.agent.id];
        const answers = await Promise.all(agents.map((agentId) => t.http.post('/v1/credentials', body(agentId), f.admin)));
        expect(answers.map((a) => a.status)).toEqual(agents.map((id) => (id === doomed.id ? 500 : 201)));
        const ids = answers.filter((a) => a.status === 201).map((a) => a.body.credential.id);
        const rows = await t.dataSource.query('SELECT id FROM credentials WHERE id = ANY ($1)', [ids]);
        expect(rows).toHaveLength(4);
        const doomedRows = await t.dataSource.query('SELECT count(*)::int AS n FROM credentials WHERE agent_id = $1', [doomed.id]);
        expect(doomedRows[0].n).toBe(0);
        // Their secrets were removed from the store again; the others' are there.
        const secrets = await t.dataSource.query(
          `SELECT count(*)::int AS n FROM local_secret_versions v
            WHERE NOT EXISTS (SELECT 1 FROM credentials c WHERE c.id = v.credential_id)`,
        );
        expect(secrets[0].n).toBe(0);
        const audited = await t.dataSource.query(
          `SELECT count(*)::int AS n FROM audit_events WHERE action = 'credential.created' AND target_id = ANY ($1)`,
          [ids],
        );
        expect(audited[0].n).toBe(4);
      } finally {
        await t.dataSource.query('DROP TRIGGER refuse_doomed_agent ON credentials; DROP FUNCTION refuse_doomed_agent();');
      }
    });

    it('defaults to 90 days and a 24 hour grace period', async () => {
      const { credential } = await f.credential(world.agent.id, [`${world.product.name}:read`]);
      expect(credential.rotationIntervalDays).toBe(90);
      expect(credential.gracePeriodHours).toBe(24);
      expect(credential.ipAllowlist).toEqual([]);
    });

    it('refuses new credentials for a decommissioned agent', async () => {
      const agent = await f.agent(world.owner.id);
      await t.dataSource.query("UPDATE agents SET status = 'decommissioned' WHERE id = $1", [agent.id]);
      const r = await t.http.post(
        '/v1/credentials',
        {
          agentId: agent.id,
          type: 'api_key',
          environment: 'sandbox',
          scopes: [`${world.product.name}:read`],
          rateLimit: { requests: 1, perSeconds: 1 },
        },
        f.admin,
      );
      expect(r.status).toBe(409);
      expect(r.body.code).toBe('AGENT_DECOMMISSIONED');
    });
  });

  describe('the approval gate for delete/admin scopes', () => {
    it('holds the credential until a different admin approves, then the requester claims once', async () => {
      const owner = await f.token('owner', world.owner.id);
      const second = await f.token('admin');
      const requested = await f.credential(world.agent.id, [`${world.product.name}:read`, `${world.product.name}:delete`], {}, owner.token);
      expect(requested.status).toBe(202);
      expect(requested.secret).toBeUndefined();
      expect(requested.credential).toMatchObject({
        status: 'pending_approval',
        secretRef: null,
        secretVersion: null,
        requestedBy: owner.id,
      });
      const id = requested.credential.id;
      expect(await t.dataSource.query('SELECT 1 FROM local_secret_versions WHERE credential_id = $1', [id])).toHaveLength(0);

      // Nothing to claim yet; owners cannot approve at all.
      expect((await t.http.post(`/v1/credentials/${id}/claim`, undefined, owner.token)).status).toBe(409);
      expect((await t.http.post(`/v1/credentials/${id}/approve`, undefined, owner.token)).status).toBe(403);

      const approved = await t.http.post(`/v1/credentials/${id}/approve`, undefined, second.token);
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ status: 'active', approvedBy: second.id, secretVersion: 1 });
      expect(approved.text).not.toMatch(/agk_(live|test)_/);
      expect((await t.http.post(`/v1/credentials/${id}/approve`, undefined, f.admin)).status).toBe(409);

      // Only the requester claims, exactly once.
      expect((await t.http.post(`/v1/credentials/${id}/claim`, undefined, f.admin)).status).toBe(403);
      const claimed = await t.http.post(`/v1/credentials/${id}/claim`, undefined, owner.token);
      expect(claimed.status).toBe(200);
      expect(isWellFormedSecret(claimed.body.secret)).toBe(true);
      expect(claimed.body.secretVersion).toBe(1);
      const [row] = await t.dataSource.query('SELECT secret_sha256 FROM credentials WHERE id = $1', [id]);
      expect(row.secret_sha256).toBe(sha256(claimed.body.secret));
      const again = await t.http.post(`/v1/credentials/${id}/claim`, undefined, owner.token);
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('SECRET_ALREADY_CLAIMED');
    });

    it('refuses self-approval, even by an admin', async () => {
      const admin = await f.token('admin');
      const requested = await f.credential(world.agent.id, [`${world.product.name}:admin`], {}, admin.token);
      expect(requested.status).toBe(202);
      const self = await t.http.post(`/v1/credentials/${requested.credential.id}/approve`, undefined, admin.token);
      expect(self.status).toBe(403);
      expect(self.body.code).toBe('SELF_APPROVAL');
      const still = await t.http.get(`/v1/credentials/${requested.credential.id}`, f.admin);
      expect(still.body.status).toBe('pending_approval');
    });

    it('rejects a pending credential for good', async () => {
      const requested = await f.credential(world.agent.id, [`${world.product.name}:delete`]);
      const id = requested.credential.id;
      const rejected = await t.http.post(`/v1/credentials/${id}/reject`, undefined, f.admin);
      expect(rejected.status).toBe(200);
      expect(rejected.body.status).toBe('rejected');
      const second = await f.token('admin');
      expect((await t.http.post(`/v1/credentials/${id}/approve`, undefined, second.token)).status).toBe(409);
      expect((await t.http.patch(`/v1/credentials/${id}`, { rateLimit: { requests: 1, perSeconds: 1 } }, f.admin)).status).toBe(409);
    });

    it('holds a PATCH that adds a delete scope while the old scopes stay in force', async () => {
      const p = world.product.name;
      const owner = await f.token('owner', world.owner.id);
      const { credential } = await f.credential(world.agent.id, [`${p}:read`], {}, owner.token);
      const change = await t.http.patch(
        `/v1/credentials/${credential.id}`,
        { scopes: [`${p}:read`, `${p}:delete`], rateLimit: { requests: 5, perSeconds: 1 } },
        owner.token,
      );
      expect(change.status).toBe(202);
      expect(change.body.scopes).toEqual([`${p}:read`]);
      expect(change.body.rateLimit).toEqual({ requests: 100, perSeconds: 60 });
      expect(change.body.pendingChange).toMatchObject({
        status: 'pending_approval',
        scopes: [`${p}:read`, `${p}:delete`],
        requestedBy: owner.id,
      });
      // A second change waits for the first to be decided.
      expect((await t.http.patch(`/v1/credentials/${credential.id}`, { gracePeriodHours: 1 }, owner.token)).status).toBe(409);
      // The requester cannot approve it; another admin can.
      const approved = await t.http.post(`/v1/credentials/${credential.id}/approve`, undefined, f.admin);
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({
        status: 'active',
        scopes: [`${p}:read`, `${p}:delete`],
        rateLimit: { requests: 5, perSeconds: 1 },
        pendingChange: null,
      });
    });

    it('drops a rejected change and keeps the credential as it was', async () => {
      const p = world.product.name;
      const { credential } = await f.credential(world.agent.id, [`${p}:write`]);
      const admin = await f.token('admin');
      expect((await t.http.patch(`/v1/credentials/${credential.id}`, { scopes: [`${p}:admin`] }, admin.token)).status).toBe(202);
      const rejected = await t.http.post(`/v1/credentials/${credential.id}/reject`, undefined, f.admin);
      expect(rejected.status).toBe(200);
      expect(rejected.body).toMatchObject({ status: 'active', scopes: [`${p}:write`], pendingChange: null });
    });
  });

  describe('the approvals queue: GET /v1/credentials?pendingApproval', () => {
    it('lists new requests and active credentials with a pending change, until each is decided; owners see only their own', async () => {
      const p = world.product.name;
      const owner = await f.owner({ name: 'Queue team' });
      const agent = (await t.http.post('/v1/agents', { name: 'queue-agent', ownerId: owner.id }, f.admin)).body;
      const ownerToken = await f.token('owner', owner.id);
      // A second apart each, so newest-first is one order (the clock is frozen).
      const requested = (await f.credential(agent.id, [`${p}:delete`], {}, ownerToken.token)).credential;
      t.clock.advance(1000);
      const changed = (await f.credential(agent.id, [`${p}:read`], {}, ownerToken.token)).credential;
      t.clock.advance(1000);
      const plain = (await f.credential(agent.id, [`${p}:read`], {}, ownerToken.token)).credential;
      const change = await t.http.patch(`/v1/credentials/${changed.id}`, { scopes: [`${p}:read`, `${p}:admin`] }, ownerToken.token);
      expect(change.status).toBe(202);
      const elsewhere = (await f.credential(world.agent.id, [`${p}:admin`])).credential;

      const ids = async (query: string, token = f.admin) => {
        const r = await t.http.get(`/v1/credentials?${query}`, token);
        expect(r.status).toBe(200);
        return r.body.items.map((c: { id: string }) => c.id);
      };
      const queue = await ids(`pendingApproval=true&ownerId=${owner.id}`);
      expect(queue).toEqual([changed.id, requested.id]);
      const [listedChange] = (await t.http.get(`/v1/credentials?pendingApproval=true&ownerId=${owner.id}&status=active`, f.admin)).body
        .items;
      expect(listedChange).toMatchObject({
        id: changed.id,
        status: 'active',
        scopes: [`${p}:read`],
        pendingChange: { status: 'pending_approval', scopes: [`${p}:read`, `${p}:admin`], requestedBy: ownerToken.id },
      });
      expect(await ids(`pendingApproval=false&ownerId=${owner.id}`)).toEqual([plain.id]);
      expect(await ids('pendingApproval=true')).toEqual(expect.arrayContaining([elsewhere.id, changed.id, requested.id]));
      // An owner's queue is its own, whatever it asks for.
      const mine = await ids('pendingApproval=true', ownerToken.token);
      expect(mine).toEqual([changed.id, requested.id]);

      // Decided: gone from the queue (an approved change, a rejected request).
      expect((await t.http.post(`/v1/credentials/${changed.id}/approve`, undefined, f.admin)).status).toBe(200);
      expect((await t.http.post(`/v1/credentials/${requested.id}/reject`, undefined, f.admin)).status).toBe(200);
      expect(await ids(`pendingApproval=true&ownerId=${owner.id}`)).toEqual([]);
      // A rejected change leaves nothing pending either.
      expect((await t.http.patch(`/v1/credentials/${plain.id}`, { scopes: [`${p}:delete`] }, ownerToken.token)).status).toBe(202);
      expect(await ids(`pendingApproval=true&ownerId=${owner.id}`)).toEqual([plain.id]);
      expect((await t.http.post(`/v1/credentials/${plain.id}/reject`, undefined, f.admin)).status).toBe(200);
      expect(await ids(`pendingApproval=true&ownerId=${owner.id}`)).toEqual([]);
      expect(await ids(`pendingApproval=false&ownerId=${owner.id}`)).toEqual([plain.id, changed.id, requested.id]);
    });

    it('refuses a value other than true or false, naming the field', async () => {
      for (const value of ['yes', '1', 'TRUE', '']) {
        expectProblem(await t.http.get(`/v1/credentials?pendingApproval=${value}`, f.admin), 400, ['pendingApproval']);
      }
    });
  });

  describe('PATCH', () => {
    it('applies plain changes at once and recomputes the rotation date', async () => {
      const p = world.product.name;
      const { credential } = await f.credential(world.agent.id, [`${p}:read`, `${p}:write`]);
      const r = await t.http.patch(
        `/v1/credentials/${credential.id}`,
        { scopes: [`${p}:read`], ipAllowlist: ['192.168.0.0/16'], rotationIntervalDays: 7, gracePeriodHours: 0 },
        f.admin,
      );
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        scopes: [`${p}:read`],
        ipAllowlist: ['192.168.0.0/16'],
        rotationIntervalDays: 7,
        gracePeriodHours: 0,
      });
      const due = new Date(r.body.nextRotationAt).getTime() - new Date(credential.createdAt).getTime();
      expect(due).toBeLessThanOrEqual(7 * DAY);
      expect(due).toBeGreaterThanOrEqual(7 * DAY * 0.99);
    });

    it('refuses an empty change', async () => {
      const { credential } = await f.credential(world.agent.id, [`${world.product.name}:read`]);
      const r = await t.http.patch(`/v1/credentials/${credential.id}`, {}, f.admin);
      expect(r.status).toBe(400);
      expect(r.body.errors[0].field).toBe('body');
    });
  });

  describe('lists', () => {
    it('page with a cursor and filter', async () => {
      const owner = await f.owner();
      const agent = await f.agent(owner.id);
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const { credential } = await f.credential(agent.id, [`${world.product.name}:read`], {
          environment: i % 2 ? 'sandbox' : 'production',
        });
        ids.push(credential.id);
        t.clock.advance(1000);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r: any = await t.http.get(`/v1/credentials?ownerId=${owner.id}&limit=3${cursor ? `&cursor=${cursor}` : ''}`, f.admin);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...r.body.items.map((c: any) => c.id));
        cursor = r.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());

      const sandbox = await t.http.get(`/v1/credentials?agentId=${agent.id}&environment=sandbox`, f.admin);
      expect(sandbox.body.items.map((c: any) => c.id).sort()).toEqual(ids.filter((_, i) => i % 2).sort());
      const active = await t.http.get(`/v1/credentials?agentId=${agent.id}&status=active&limit=500`, f.admin);
      expect(active.body.items).toHaveLength(7);
      expect(active.body.nextCursor).toBeNull();

      const soon = new Date(t.clock.now().getTime() + 100 * DAY).toISOString();
      const past = new Date(t.clock.now().getTime() - DAY).toISOString();
      expect((await t.http.get(`/v1/credentials?agentId=${agent.id}&dueBefore=${soon}`, f.admin)).body.items).toHaveLength(7);
      expect((await t.http.get(`/v1/credentials?agentId=${agent.id}&dueBefore=${past}`, f.admin)).body.items).toHaveLength(0);
    });
  });
});
