import { Webhook } from 'standardwebhooks';

import { SecretDestructionService } from '../../src/revocation/secret-destruction.service';
import { SecretStoreUnavailableError } from '../../src/secret-stores/secret-store';
import { SecretStoreRegistry } from '../../src/secret-stores/secret-store.registry';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Revocation through the API on the real app: the credential is revoked when
 * the call returns, every gateway serving its environment acknowledges a
 * signed `credential.revoked`, the secret leaves its store, and nothing about
 * it can change afterwards.
 */
describe('revocation', () => {
  let t: TestApp;
  let f: Fixtures;
  let product: any;
  const receivers: GatewayReceiver[] = [];
  const gateways: Array<{ id: string; secret: string; receiver: GatewayReceiver; environments: string[] }> = [];
  const secrets: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ env: { DELIVERY_RETRY_SCHEDULE: '100ms,200ms', DELIVERY_RETRY_WINDOW: '20s' } });
    f = new Fixtures(t);
    product = await f.product();
    for (const environments of [['production'], ['production', 'sandbox'], ['production'], ['sandbox']]) {
      const receiver = await GatewayReceiver.start();
      receivers.push(receiver);
      const res = await t.http.post('/v1/gateways', { name: `gw-${gateways.length}`, url: receiver.url, environments }, t.adminToken);
      expect(res.status).toBe(201);
      gateways.push({ id: res.body.gateway.id, secret: res.body.signingSecret, receiver, environments });
    }
  });

  afterAll(async () => {
    await t.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  const production = () => gateways.filter((g) => g.environments.includes('production'));

  async function issue(agentId: string, overrides: Record<string, unknown> = {}, scopes = [`${product.name}:read`]): Promise<any> {
    const issued = await f.credential(agentId, scopes, overrides);
    if (issued.secret) secrets.push(issued.secret);
    return issued.credential;
  }

  async function credentialOf(id: string): Promise<any> {
    return (await t.http.get(`/v1/credentials/${id}`, t.adminToken)).body;
  }

  it('revokes a credential at once, tells every gateway serving it, and destroys the secret', async () => {
    const owner = await f.owner();
    const agent = await f.agent(owner.id);
    const credential = await issue(agent.id);
    for (const g of production()) await g.receiver.waitFor((r) => r.events('credential.issued', credential.id).length === 1);
    const responder = await f.token('responder');

    const res = await t.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'key found in a public gist' }, responder.token);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      revocationId: expect.any(String),
      credentialIds: [credential.id],
      revokedAt: expect.any(String),
      reasonContainedSecret: false,
    });
    // Revoked as soon as the call returns.
    expect(await credentialOf(credential.id)).toMatchObject({
      status: 'revoked',
      revokedAt: res.body.revokedAt,
      revokedReason: 'key found in a public gist',
    });

    const revocation = await t.http.get(`/v1/revocations/${res.body.revocationId}?waitSeconds=10`, responder.token);
    expect(revocation.status).toBe(200);
    expect(revocation.body).toMatchObject({
      id: res.body.revocationId,
      credentialIds: [credential.id],
      reason: 'key found in a public gist',
      actor: { tokenId: responder.id, role: 'responder' },
      revokedAt: res.body.revokedAt,
      status: 'complete',
    });
    expect(revocation.body.deliveries.map((d: any) => d.gatewayId).sort()).toEqual(
      production()
        .map((g) => g.id)
        .sort(),
    );
    for (const d of revocation.body.deliveries)
      expect(d).toMatchObject({ status: 'delivered', attempts: 1, deliveredAt: expect.any(String), lastError: null });

    for (const g of production()) {
      const [revoked] = g.receiver.events('credential.revoked', credential.id);
      expect(new Webhook(g.secret).verify(revoked.body, revoked.headers)).toEqual(revoked.json);
      expect(revoked.json.data).toMatchObject({
        credentialId: credential.id,
        reason: 'key found in a public gist',
        revokedAt: res.body.revokedAt,
        status: 'revoked',
      });
      const order = g.receiver
        .acknowledged()
        .filter((x) => x.json.data.credentialId === credential.id)
        .map((x) => x.json.type);
      expect(order).toEqual(['credential.issued', 'credential.revoked']);
    }
    expect(gateways[3].receiver.events(undefined, credential.id)).toHaveLength(0);

    await eventually(
      async () => {
        const view = (await t.http.get(`/v1/revocations/${res.body.revocationId}`, t.adminToken)).body;
        return view.secrets[0].status === 'destroyed';
      },
      10_000,
      'secret destroyed',
    );
    const left = await t.dataSource.query('SELECT count(*)::int AS n FROM local_secret_versions WHERE credential_id = $1', [credential.id]);
    expect(left[0].n).toBe(0);
    const audit = await t.http.get(`/v1/audit-events?targetId=${credential.id}`, t.adminToken);
    const actions = audit.body.items.map((e: any) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['credential.revoked', 'credential.secret_destroyed']));
    expect(actions.filter((a: string) => a === 'credential.revoked')).toHaveLength(1);
    expect((await t.http.get('/v1/audit-events/verify', t.adminToken)).body.valid).toBe(true);

    const again = await t.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'again' }, t.adminToken);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
    expect(
      (await t.http.get(`/v1/audit-events?targetId=${credential.id}&action=credential.revoked`, t.adminToken)).body.items,
    ).toHaveLength(1);
  });

  it('revokes every credential of an agent in one revocation and decommissions the agent', async () => {
    const owner = await f.owner();
    const agent = await f.agent(owner.id);
    const earlier = await issue(agent.id);
    const live = await issue(agent.id);
    const sandbox = await issue(agent.id, { environment: 'sandbox' });
    const pending = await issue(agent.id, {}, [`${product.name}:delete`]);
    expect(pending.status).toBe('pending_approval');
    const first = await t.http.post(`/v1/credentials/${earlier.id}/revoke`, { reason: 'rotated out' }, t.adminToken);
    expect(first.status).toBe(202);

    const res = await t.http.post(`/v1/agents/${agent.id}/revoke`, { reason: 'agent compromised' }, t.adminToken);
    expect(res.status).toBe(202);
    expect(res.body.credentialIds).toEqual([live.id, sandbox.id, pending.id].sort());
    expect(res.body.revocationId).not.toBe(first.body.revocationId);
    expect((await t.http.get(`/v1/agents/${agent.id}`, t.adminToken)).body.status).toBe('decommissioned');
    for (const id of res.body.credentialIds) expect((await credentialOf(id)).status).toBe('revoked');
    expect((await credentialOf(earlier.id)).revokedReason).toBe('rotated out');

    const view = await t.http.get(`/v1/revocations/${res.body.revocationId}?waitSeconds=10`, t.adminToken);
    expect(view.body).toMatchObject({ status: 'complete', agentId: agent.id, ownerId: owner.id });
    // Every gateway serving either environment, each with one delivery per credential of its environments.
    const perGateway = Object.fromEntries(view.body.deliveries.map((d: any) => [d.gatewayId, d.deliveryIds.length]));
    expect(perGateway).toEqual({ [gateways[0].id]: 2, [gateways[1].id]: 3, [gateways[2].id]: 2, [gateways[3].id]: 1 });
    await gateways[3].receiver.waitFor((r) => r.events('credential.revoked', sandbox.id).length === 1);

    const again = await t.http.post(`/v1/agents/${agent.id}/revoke`, { reason: 'again' }, t.adminToken);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
    const viaCredential = await t.http.post(`/v1/credentials/${live.id}/revoke`, { reason: 'again' }, t.adminToken);
    expect(viaCredential.status).toBe(200);
    expect(viaCredential.body).toEqual(res.body);
    expect((await t.http.get(`/v1/audit-events?targetId=${agent.id}&action=agent.decommissioned`, t.adminToken)).body.items).toHaveLength(
      1,
    );

    const refused = await f.credential(agent.id, [`${product.name}:read`]).catch((e: Error) => e);
    expect(String(refused)).toMatch(/409/);
  });

  it('never lets a revoked credential be approved, rejected, claimed or updated', async () => {
    const owner = await f.owner();
    const agent = await f.agent(owner.id);
    const approver = await f.token('admin');
    const pending = await issue(agent.id, {}, [`${product.name}:admin`]);
    await t.http.post(`/v1/credentials/${pending.id}/revoke`, { reason: 'not needed' }, t.adminToken);
    expect((await t.http.post(`/v1/credentials/${pending.id}/approve`, {}, approver.token)).body.code).toBe('CREDENTIAL_REVOKED');
    expect((await t.http.post(`/v1/credentials/${pending.id}/reject`, {}, approver.token)).status).toBe(409);

    const approved = await issue(agent.id, {}, [`${product.name}:delete`]);
    expect((await t.http.post(`/v1/credentials/${approved.id}/approve`, {}, approver.token)).status).toBe(200);
    await t.http.post(`/v1/credentials/${approved.id}/revoke`, { reason: 'leak' }, t.adminToken);
    const claim = await t.http.post(`/v1/credentials/${approved.id}/claim`, {}, t.adminToken);
    expect(claim.status).toBe(409);
    expect(claim.body.code).toBe('CREDENTIAL_REVOKED');
    const patch = await t.http.patch(`/v1/credentials/${approved.id}`, { rateLimit: { requests: 1, perSeconds: 1 } }, t.adminToken);
    expect(patch.status).toBe(409);
    expect(patch.body.code).toBe('CREDENTIAL_REVOKED');
    expect(await credentialOf(approved.id)).toMatchObject({ status: 'revoked', rateLimit: { requests: 100, perSeconds: 60 } });
  });

  it('lets admins and responders revoke anything, an owner only its own, and auditors nothing', async () => {
    const ownerA = await f.owner();
    const ownerB = await f.owner();
    const tokens = {
      ownerA: await f.token('owner', ownerA.id),
      ownerB: await f.token('owner', ownerB.id),
      responder: await f.token('responder'),
      auditor: await f.token('auditor'),
    };
    const agentA = await f.agent(ownerA.id);
    const agentA2 = await f.agent(ownerA.id);
    const agentB = await f.agent(ownerB.id);
    const [a1, a2, b1] = [await issue(agentA.id), await issue(agentA.id), await issue(agentB.id)];
    const body = { reason: 'test' };

    for (const token of [tokens.ownerB.token, tokens.auditor.token]) {
      expect((await t.http.post(`/v1/credentials/${a1.id}/revoke`, body, token)).status).toBe(403);
      expect((await t.http.post(`/v1/agents/${agentA.id}/revoke`, body, token)).status).toBe(403);
    }
    expect((await t.http.post(`/v1/credentials/${a1.id}/revoke`, body)).status).toBe(401);
    expect((await credentialOf(a1.id)).status).toBe('active');
    expect((await t.http.get(`/v1/agents/${agentA.id}`, t.adminToken)).body.status).toBe('active');

    const own = await t.http.post(`/v1/credentials/${a1.id}/revoke`, body, tokens.ownerA.token);
    expect(own.status).toBe(202);
    expect((await t.http.post(`/v1/credentials/${a2.id}/revoke`, body, tokens.responder.token)).status).toBe(202);
    expect((await t.http.post(`/v1/credentials/${b1.id}/revoke`, body, t.adminToken)).status).toBe(202);
    expect((await t.http.post(`/v1/agents/${agentA2.id}/revoke`, body, tokens.ownerA.token)).status).toBe(202);
    expect((await t.http.post(`/v1/agents/${agentB.id}/revoke`, body, tokens.responder.token)).status).toBe(202);
    expect((await t.http.post(`/v1/agents/${agentA.id}/revoke`, body, t.adminToken)).status).toBe(202);

    const path = `/v1/revocations/${own.body.revocationId}`;
    expect((await t.http.get(path, tokens.ownerA.token)).status).toBe(200);
    expect((await t.http.get(path, tokens.ownerB.token)).status).toBe(403);
    expect((await t.http.get(path, tokens.auditor.token)).status).toBe(200);
    expect((await t.http.get(path, tokens.responder.token)).status).toBe(200);
  });

  it('refuses bad input with a problem naming the field and changes nothing', async () => {
    const owner = await f.owner();
    const agent = await f.agent(owner.id);
    const credential = await issue(agent.id);
    const cases: Array<[string, unknown, string]> = [
      [`/v1/credentials/${credential.id}/revoke`, {}, 'reason'],
      [`/v1/credentials/${credential.id}/revoke`, { reason: '   ' }, 'reason'],
      [`/v1/credentials/${credential.id}/revoke`, { reason: 'x', extra: 1 }, 'extra'],
      [`/v1/credentials/${credential.id}/revoke`, { reason: 'x'.repeat(1001) }, 'reason'],
      ['/v1/credentials/not-a-uuid/revoke', { reason: 'x' }, 'id'],
      [`/v1/agents/${agent.id}/revoke`, { reason: 42 }, 'reason'],
    ];
    for (const [path, body, field] of cases) {
      const res = await t.http.post(path, body, t.adminToken);
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: any) => e.field)).toContain(field);
    }
    expect((await credentialOf(credential.id)).status).toBe('active');
    expect((await t.http.post('/v1/credentials/00000000-0000-4000-8000-000000000000/revoke', { reason: 'x' }, t.adminToken)).status).toBe(
      404,
    );
    expect((await t.http.post('/v1/agents/00000000-0000-4000-8000-000000000000/revoke', { reason: 'x' }, t.adminToken)).status).toBe(404);
    expect((await t.http.get('/v1/revocations/00000000-0000-4000-8000-000000000000', t.adminToken)).status).toBe(404);
    const revoked = await t.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'x' }, t.adminToken);
    const wait = await t.http.get(`/v1/revocations/${revoked.body.revocationId}?waitSeconds=31`, t.adminToken);
    expect(wait.status).toBe(400);
    expect(wait.body.errors[0].field).toBe('waitSeconds');
  });

  it('keeps a credential revoked when its store is down, and destroys the secret once the store is back', async () => {
    const owner = await f.owner();
    const agent = await f.agent(owner.id);
    const credential = await issue(agent.id);
    // Earlier tests' destructions finish first: the outage below is for this credential only.
    await eventually(
      async () =>
        (await t.dataSource.query(`SELECT count(*)::int AS n FROM revocation_credentials WHERE secret_status = 'pending'`))[0].n === 0,
      10_000,
      'earlier destructions',
    );
    const store = t.app.get(SecretStoreRegistry).get('local');
    const deleteAll = store.deleteAll.bind(store);
    let outage = true;
    const spy = jest.spyOn(store, 'deleteAll').mockImplementation(async (target) => {
      if (outage) throw new SecretStoreUnavailableError('local', 'connection refused');
      return deleteAll(target);
    });
    try {
      const res = await t.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'leak' }, t.adminToken);
      expect(res.status).toBe(202);
      expect((await credentialOf(credential.id)).status).toBe('revoked');
      const pendingSecret = await eventually(
        async () => {
          const s = (await t.http.get(`/v1/revocations/${res.body.revocationId}`, t.adminToken)).body.secrets[0];
          return s.attempts === 1 ? s : null;
        },
        10_000,
        'a failed destruction attempt',
      );
      expect(pendingSecret).toMatchObject({ status: 'pending', lastError: expect.stringContaining('connection refused') });

      const destruction = t.app.get(SecretDestructionService);
      expect((await destruction.sweep()).requeued).toBe(0); // not due yet
      t.clock.advance(10 * 60 * 1000);
      expect((await destruction.sweep()).requeued).toBe(1);
      await eventually(
        async () => (await t.http.get(`/v1/revocations/${res.body.revocationId}`, t.adminToken)).body.secrets[0].attempts === 2,
        10_000,
        'second attempt',
      );

      outage = false;
      t.clock.advance(10 * 60 * 1000);
      await destruction.sweep();
      const done = await eventually(
        async () => {
          const s = (await t.http.get(`/v1/revocations/${res.body.revocationId}`, t.adminToken)).body.secrets[0];
          return s.status === 'destroyed' ? s : null;
        },
        10_000,
        'destroyed',
      );
      expect(done).toMatchObject({ attempts: 3, lastError: null });
      expect((await credentialOf(credential.id)).status).toBe('revoked');
      const left = await t.dataSource.query('SELECT count(*)::int AS n FROM local_secret_versions WHERE credential_id = $1', [
        credential.id,
      ]);
      expect(left[0].n).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('delivers every revocation to a gateway that was down, once it recovers, and waitSeconds waits for it', async () => {
    let down = true;
    const flaky = gateways[2].receiver;
    flaky.respondWith(() => (down ? { status: 503 } : { status: 204 }));
    const owner = await f.owner();
    const agent = await f.agent(owner.id);
    const credentials = [];
    for (let i = 0; i < 5; i++) credentials.push(await issue(agent.id));
    const revocations = [];
    for (const c of credentials)
      revocations.push((await t.http.post(`/v1/credentials/${c.id}/revoke`, { reason: 'batch' }, t.adminToken)).body);

    const started = performance.now();
    const waiting = await t.http.get(`/v1/revocations/${revocations[0].revocationId}?waitSeconds=1`, t.adminToken);
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    expect(waiting.body.status).toBe('propagating');
    const stuck = waiting.body.deliveries.find((d: any) => d.gatewayId === gateways[2].id);
    expect(stuck).toMatchObject({ status: 'pending', lastStatusCode: null });
    const others = waiting.body.deliveries.filter((d: any) => d.gatewayId !== gateways[2].id);
    expect(others.every((d: any) => d.status === 'delivered')).toBe(true);

    down = false;
    for (const r of revocations) {
      const view = await t.http.get(`/v1/revocations/${r.revocationId}?waitSeconds=15`, t.adminToken);
      expect(view.body.status).toBe('complete');
    }
    for (const c of credentials) {
      const seen = flaky
        .acknowledged()
        .filter((x) => x.json.data.credentialId === c.id)
        .map((x) => x.json.type);
      expect(seen).toEqual(['credential.issued', 'credential.revoked']);
    }
    flaky.respondWith(() => ({ status: 204 }));
  });

  it('never put a plaintext secret in a webhook body', () => {
    const bodies = receivers.flatMap((r) => r.received.map((x) => x.body)).join('\n');
    expect(bodies.length).toBeGreaterThan(0);
    expect(secrets.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(bodies).not.toContain(secret);
    expect(bodies).not.toMatch(/agk_(live|test)_/);
  });
});
