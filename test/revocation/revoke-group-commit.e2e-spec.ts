import { randomUUID } from 'node:crypto';

import { JobQueues } from '../../src/common/jobs/job-queues';
import { SecretDestructionService } from '../../src/revocation/secret-destruction.service';
import {
  BATCH_SWEEP_GRACE_MS,
  RevocationQueue,
  SecretDestructionJob,
  secretDestructionJobId,
} from '../../src/revocation/secret-destruction-jobs';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
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

  /** Revokes these credentials concurrently; returns, per transaction that committed them, the credentials it carried. */
  async function revokeTogether(ids: string[], reason: string): Promise<string[][]> {
    const answers = await Promise.all(ids.map((id) => t.http.post(`/v1/credentials/${id}/revoke`, { reason }, t.adminToken)));
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 202));
    const rows: Array<{ tx: string; ids: string[] }> = await t.dataSource.query(
      `SELECT xmin::text AS tx, array_agg(credential_id::text ORDER BY credential_id) AS ids
         FROM revocation_credentials WHERE credential_id = ANY ($1::uuid[]) GROUP BY xmin::text`,
      [ids],
    );
    return rows.map((r) => r.ids);
  }

  async function pendingSecrets(ids: string[]): Promise<number> {
    const [{ n }] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM revocation_credentials WHERE credential_id = ANY ($1::uuid[]) AND secret_status = 'pending'`,
      [ids],
    );
    return n;
  }

  it('destroys the secrets of one commit through one job, and through the job sweep when that job was lost', async () => {
    const { product, agent } = await f.world();
    const scopes = [`${product.name}:read`];
    const issueMany = async (n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push((await f.credential(agent.id, scopes)).credential.id);
      return ids;
    };
    const jobs = t.app.get(JobQueues);
    const realAddBulk = jobs.addBulk.bind(jobs);
    const addBulk = jest.spyOn(jobs, 'addBulk');
    const destructionJobs = () =>
      addBulk.mock.calls
        .filter(([queue]) => queue === RevocationQueue.SecretDestruction)
        .flatMap(([, added]) => added.map((j) => j.data as SecretDestructionJob));
    try {
      // Enqueued: one job per commit (all in the local store), carrying every credential that commit revoked.
      const ids = await issueMany(8);
      const commits = await revokeTogether(ids, 'one job per commit');
      expect(commits.length).toBeLessThan(ids.length);
      await eventually(async () => (await pendingSecrets(ids)) === 0, 10_000, 'secrets destroyed');
      const added = destructionJobs().filter((j) => ids.includes(j.credentialId));
      expect(added).toHaveLength(commits.length);
      expect(added.map((j) => [...(j.credentialIds ?? [j.credentialId])].sort()).sort()).toEqual(commits.map((c) => [...c].sort()).sort());
      // Jobs finishing in the same window share one transaction, yet each destruction is audited under its own job.
      const audited: Array<{ target_id: string; request_id: string }> = await t.dataSource.query(
        `SELECT target_id, request_id FROM audit_events WHERE action = 'credential.secret_destroyed' AND target_id = ANY ($1::text[])`,
        [ids],
      );
      expect(audited).toHaveLength(ids.length);
      const jobOf = new Map(
        added.flatMap((j) => (j.credentialIds ?? [j.credentialId]).map((id) => [id, `job:${secretDestructionJobId(j)}`])),
      );
      for (const a of audited) expect(a.request_id).toBe(jobOf.get(a.target_id));

      // Lost: the commits land, their jobs never reach Redis (a crash between commit and enqueue).
      const lost = await issueMany(8);
      // Earlier tests' destructions finish first: the sweeps below count this test's rows only.
      await eventually(
        async () =>
          (await t.dataSource.query(`SELECT count(*)::int AS n FROM revocation_credentials WHERE secret_status = 'pending'`))[0].n === 0,
        10_000,
        'earlier destructions',
      );
      addBulk.mockImplementation((queue, added) =>
        queue === RevocationQueue.SecretDestruction ? Promise.resolve() : realAddBulk(queue, added),
      );
      let lostCommits: string[][];
      try {
        lostCommits = await revokeTogether(lost, 'enqueue lost');
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        addBulk.mockRestore();
      }
      expect(await pendingSecrets(lost)).toBe(lost.length);
      const destruction = t.app.get(SecretDestructionService);
      // A commit of one credential gave it the sweep's own job id, due at once; a batch's rows wait out the grace.
      const alone = lostCommits.filter((c) => c.length === 1).length;
      expect((await destruction.sweep()).requeued).toBe(alone);
      t.clock.advance(BATCH_SWEEP_GRACE_MS);
      expect((await destruction.sweep()).requeued).toBe(lost.length - alone);
      await eventually(async () => (await pendingSecrets(lost)) === 0, 10_000, 'lost destructions done by the sweep');
      const [{ n }] = await t.dataSource.query(
        'SELECT count(*)::int AS n FROM local_secret_versions WHERE credential_id = ANY ($1::uuid[]) AND destroyed_at IS NULL',
        [[...ids, ...lost]],
      );
      expect(n).toBe(0);
    } finally {
      addBulk.mockRestore();
    }
  });
});
