import { randomUUID } from 'node:crypto';

import { Fixtures } from '../support/fixtures';
import { GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Concurrent `POST /v1/credentials/:id/revoke` calls are committed together
 * (src/revocation/revocation.service.ts, group commit): they share one
 * transaction, yet each is its own revocation with its own audit event, actor
 * and request id, and each call gets its own answer, errors included.
 */
describe('revocations committed together', () => {
  let t: TestApp;
  let f: Fixtures;
  let receiver: GatewayReceiver;

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    receiver = await GatewayReceiver.start();
    const res = await t.http.post('/v1/gateways', { name: 'gw-group', url: receiver.url, environments: ['production'] }, t.adminToken);
    expect(res.status).toBe(201);
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  it('answers each concurrent revoke on its own, shares their transaction, and audits each with its caller', async () => {
    const { owner, product, agent } = await f.world();
    const other = await f.owner();
    const otherAgent = await f.agent(other.id);
    const scopes = [`${product.name}:read`];
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await f.credential(agent.id, scopes)).credential.id);
    const twice = (await f.credential(agent.id, scopes)).credential.id;
    const foreign = (await f.credential(otherAgent.id, scopes)).credential.id;
    const responder = await f.token('responder');
    const ownerToken = await f.token('owner', owner.id);

    const calls = [
      ...ids.map((id, i) => ({ id, token: i % 2 ? responder.token : t.adminToken, reason: `compromised ${i}` })),
      { id: twice, token: t.adminToken, reason: 'twice, first' },
      { id: twice, token: responder.token, reason: 'twice, second' },
      { id: foreign, token: ownerToken.token, reason: 'not mine' },
      { id: randomUUID(), token: t.adminToken, reason: 'no such credential' },
    ];
    const answers = await Promise.all(calls.map((c) => t.http.post(`/v1/credentials/${c.id}/revoke`, { reason: c.reason }, c.token)));

    for (const [i, id] of ids.entries()) {
      expect(answers[i].status).toBe(202);
      expect(answers[i].body).toMatchObject({ credentialIds: [id], reasonContainedSecret: false });
      const credential = (await t.http.get(`/v1/credentials/${id}`, t.adminToken)).body;
      expect(credential).toMatchObject({ status: 'revoked', revokedReason: `compromised ${i}`, revokedAt: answers[i].body.revokedAt });
    }
    expect(new Set(answers.slice(0, 10).map((a) => a.body.revocationId)).size).toBe(10);
    // The same credential twice: one revocation, the second call answered with it.
    expect(
      answers
        .slice(10, 12)
        .map((a) => a.status)
        .sort(),
    ).toEqual([200, 202]);
    expect(answers[10].body).toEqual(answers[11].body);
    expect(answers[12].status).toBe(403);
    expect(answers[13].status).toBe(404);
    expect((await t.http.get(`/v1/credentials/${foreign}`, t.adminToken)).body.status).toBe('active');

    // Fewer transactions than revocations: rows one transaction wrote share its id (xmin).
    const revocationIds = [...answers.slice(0, 10).map((a) => a.body.revocationId), answers[10].body.revocationId];
    const [{ transactions }] = await t.dataSource.query(
      'SELECT count(DISTINCT xmin::text)::int AS transactions FROM revocations WHERE id = ANY ($1::uuid[])',
      [revocationIds],
    );
    expect(transactions).toBeLessThan(revocationIds.length);

    // Each revocation's record and audit event name its own caller and request.
    const requestIds = new Set<string>();
    for (const [i, id] of ids.entries()) {
      const revocation = (await t.http.get(`/v1/revocations/${answers[i].body.revocationId}`, t.adminToken)).body;
      expect(revocation).toMatchObject({ reason: `compromised ${i}`, actor: { role: i % 2 ? 'responder' : 'admin' } });
      const events = (await t.http.get(`/v1/audit-events?targetId=${id}&action=credential.revoked`, t.adminToken)).body.items;
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        actor: { role: i % 2 ? 'responder' : 'admin' },
        data: { revocationId: answers[i].body.revocationId, reason: `compromised ${i}`, previousStatus: 'active' },
      });
      requestIds.add(events[0].requestId);
    }
    expect(requestIds.size).toBe(10);
    expect((await t.http.get(`/v1/audit-events?targetId=${twice}&action=credential.revoked`, t.adminToken)).body.items).toHaveLength(1);
    expect((await t.http.get('/v1/audit-events/verify', t.adminToken)).body.valid).toBe(true);

    // Every gateway is told of each once, after its issue.
    for (const id of [...ids, twice]) {
      await receiver.waitFor((r) => r.events('credential.revoked', id).length === 1);
      const order = receiver
        .acknowledged()
        .filter((x) => x.json.data.credentialId === id)
        .map((x) => x.json.type);
      expect(order).toEqual(['credential.issued', 'credential.revoked']);
    }
  });

  it('does not hold the others up behind a credential another transaction holds', async () => {
    const { product, agent } = await f.world();
    const scopes = [`${product.name}:read`];
    const held = (await f.credential(agent.id, scopes)).credential.id;
    const others: string[] = [];
    for (let i = 0; i < 3; i++) others.push((await f.credential(agent.id, scopes)).credential.id);
    // Another transaction holds the row (a bulk revocation's chunk, a rotation step): its revoke waits for it, alone.
    const runner = t.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      await runner.query('SELECT id FROM credentials WHERE id = $1 FOR UPDATE', [held]);
      let heldAnswered = false;
      const heldCall = t.http.post(`/v1/credentials/${held}/revoke`, { reason: 'held' }, t.adminToken).then((r) => {
        heldAnswered = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 300));
      const answers = await Promise.all(
        others.map((id) => t.http.post(`/v1/credentials/${id}/revoke`, { reason: 'not held' }, t.adminToken)),
      );
      expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
      expect(heldAnswered).toBe(false);
      await runner.commitTransaction();
      const answer = await heldCall;
      expect(answer.status).toBe(202);
      expect((await t.http.get(`/v1/credentials/${held}`, t.adminToken)).body.status).toBe('revoked');
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('commits the others when one call of the group fails its transaction', async () => {
    const { product, agent } = await f.world();
    const scopes = [`${product.name}:read`];
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await f.credential(agent.id, scopes)).credential.id);
    // Revoked around the service, with no revocation to answer with: a repeat of it fails (409), in whatever group it lands.
    const broken = (await f.credential(agent.id, scopes)).credential.id;
    await t.dataSource.query(`UPDATE credentials SET status = 'revoked', revoked_at = now() WHERE id = $1`, [broken]);

    const answers = await Promise.all(
      [broken, ...ids].map((id) => t.http.post(`/v1/credentials/${id}/revoke`, { reason: 'group with a bad one' }, t.adminToken)),
    );
    expect(answers[0].status).toBe(409);
    for (const [i, id] of ids.entries()) {
      expect(answers[i + 1].status).toBe(202);
      expect((await t.http.get(`/v1/credentials/${id}`, t.adminToken)).body.status).toBe('revoked');
      expect((await t.http.get(`/v1/audit-events?targetId=${id}&action=credential.revoked`, t.adminToken)).body.items).toHaveLength(1);
    }
  });
});
