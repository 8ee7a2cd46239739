import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

describe('audit log', () => {
  let t: TestApp;
  let f: Fixtures;

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
  });
  afterAll(() => t.close());

  it('records one event per state change, with actor, target and request id', async () => {
    const before = (await t.dataSource.query('SELECT count(*)::int AS n FROM audit_events'))[0].n;
    const owner = await t.http.request(
      'POST',
      '/v1/owners',
      { name: 'Audited', email: 'audited@example.com', kind: 'team' },
      { token: f.admin, headers: { 'x-request-id': 'req-audit-1' } },
    );
    expect(owner.status).toBe(201);
    expect(owner.headers.get('x-request-id')).toBe('req-audit-1');
    const product = await f.product();
    const agent = await f.agent(owner.body.id);
    const { credential } = await f.credential(agent.id, [`${product.name}:read`]);
    await t.http.patch(`/v1/credentials/${credential.id}`, { gracePeriodHours: 1 }, f.admin);
    // Reads write nothing.
    await t.http.get(`/v1/credentials/${credential.id}`, f.admin);
    await t.http.get('/v1/credentials', f.admin);

    const after = (await t.dataSource.query('SELECT count(*)::int AS n FROM audit_events'))[0].n;
    expect(after - before).toBe(5);

    const events = await t.http.get(`/v1/audit-events?targetId=${owner.body.id}`, f.admin);
    expect(events.status).toBe(200);
    expect(events.body.items).toHaveLength(1);
    expect(events.body.items[0]).toMatchObject({
      action: 'owner.created',
      targetType: 'owner',
      targetId: owner.body.id,
      requestId: 'req-audit-1',
      actor: { tokenId: 'bootstrap-admin', role: 'admin', ownerId: null },
      data: { name: 'Audited', email: 'audited@example.com', kind: 'team' },
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      prevHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const credentialEvents = await t.http.get(`/v1/audit-events?targetId=${credential.id}`, f.admin);
    expect(credentialEvents.body.items.map((e: any) => e.action)).toEqual(['credential.updated', 'credential.created']);
    expect(credentialEvents.body.items[0].data.before.gracePeriodHours).toBe(24);
    expect(credentialEvents.body.items[0].data.after.gracePeriodHours).toBe(1);
  });

  it('filters by actor, action and time, newest first, with a cursor', async () => {
    const auditorToken = await f.token('admin');
    for (let i = 0; i < 4; i++)
      await t.http.post('/v1/owners', { name: `o${i}`, email: `filter${i}@example.com`, kind: 'person' }, auditorToken.token);
    const mine = await t.http.get(`/v1/audit-events?actor=${auditorToken.id}&action=owner.created&limit=3`, f.admin);
    expect(mine.body.items).toHaveLength(3);
    expect(mine.body.items.map((e: any) => e.data.name)).toEqual(['o3', 'o2', 'o1']);
    const rest = await t.http.get(
      `/v1/audit-events?actor=${auditorToken.id}&action=owner.created&limit=3&cursor=${mine.body.nextCursor}`,
      f.admin,
    );
    expect(rest.body.items.map((e: any) => e.data.name)).toEqual(['o0']);
    expect(rest.body.nextCursor).toBeNull();
    const seqs = mine.body.items.map((e: any) => e.seq);
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);

    const future = new Date(t.clock.now().getTime() + 60_000).toISOString();
    expect((await t.http.get(`/v1/audit-events?since=${future}`, f.admin)).body.items).toEqual([]);
    expect((await t.http.get(`/v1/audit-events?until=${future}&limit=1`, f.admin)).body.items).toHaveLength(1);
  });

  it('keeps a contiguous, valid chain under concurrent writers', async () => {
    // Names outside ASCII check that the database and the service hash the same bytes.
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        t.http.post('/v1/owners', { name: `Équipe ${i} — 支付 🔑`, email: `concurrent${i}@example.com`, kind: 'team' }, f.admin),
      ),
    );
    const verify = await t.http.get('/v1/audit-events/verify', f.admin);
    expect(verify.status).toBe(200);
    const [{ n, max, events }] = await t.dataSource.query(
      'SELECT count(*)::int AS n, max(seq)::int AS max, (SELECT count(*)::int FROM audit_events) AS events FROM audit_chain',
    );
    expect(verify.body).toEqual({ valid: true, count: n, headHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(max).toBe(n);
    expect(events).toBe(n);
    const [head] = await t.dataSource.query('SELECT hash FROM audit_chain ORDER BY seq DESC LIMIT 1');
    expect(verify.body.headHash).toBe(head.hash);
  });

  it('refuses UPDATE, DELETE and TRUNCATE of events and links through the trigger', async () => {
    await expect(t.dataSource.query("UPDATE audit_events SET action = 'forged' WHERE created_seq = 1")).rejects.toThrow(
      /audit_events is append-only/,
    );
    await expect(t.dataSource.query('DELETE FROM audit_events WHERE created_seq = 1')).rejects.toThrow(/append-only/);
    await expect(t.dataSource.query('TRUNCATE audit_events CASCADE')).rejects.toThrow(/append-only/);
    await expect(t.dataSource.query("UPDATE audit_chain SET hash = 'f' WHERE seq = 1")).rejects.toThrow(/audit_chain is append-only/);
    await expect(t.dataSource.query('DELETE FROM audit_chain WHERE seq = 1')).rejects.toThrow(/append-only/);
    await expect(t.dataSource.query('TRUNCATE audit_chain')).rejects.toThrow(/append-only/);
    expect((await t.http.get('/v1/audit-events/verify', f.admin)).body.valid).toBe(true);
  });

  it('detects a row altered behind the trigger and names the first broken link', async () => {
    const [target] = await t.dataSource.query(
      "SELECT c.seq, c.event_id FROM audit_chain c JOIN audit_events e ON e.id = c.event_id WHERE e.action = 'owner.created' ORDER BY c.seq LIMIT 1 OFFSET 2",
    );
    // A superuser can switch triggers off; verify must still catch the change.
    await t.dataSource.transaction(async (em) => {
      await em.query('SET LOCAL session_replication_role = replica');
      await em.query(`UPDATE audit_events SET data = jsonb_set(data, '{name}', '"Mallory"') WHERE id = $1`, [target.event_id]);
    });
    const verify = await t.http.get('/v1/audit-events/verify', f.admin);
    expect(verify.body.valid).toBe(false);
    expect(verify.body.firstBrokenSeq).toBe(Number(target.seq));

    // Recomputing the altered link's hash only moves the break to the next link.
    const { chainHash } = await import('../../src/audit/audit-chain');
    const { chainedEventOf } = await import('../../src/audit/audit-chainer.service');
    const [row] = await t.dataSource.query(
      'SELECT c.prev_hash, e.* FROM audit_chain c JOIN audit_events e ON e.id = c.event_id WHERE c.seq = $1',
      [target.seq],
    );
    const forged = chainHash(row.prev_hash, chainedEventOf(row));
    await t.dataSource.transaction(async (em) => {
      await em.query('SET LOCAL session_replication_role = replica');
      await em.query('UPDATE audit_chain SET hash = $1 WHERE seq = $2', [forged, target.seq]);
    });
    const again = await t.http.get('/v1/audit-events/verify', f.admin);
    expect(again.body.valid).toBe(false);
    expect(again.body.firstBrokenSeq).toBe(Number(target.seq) + 1);
  });

  it('flags an event written around the service (neither linked nor queued)', async () => {
    const fresh = await startTestApp();
    try {
      await fresh.http.post('/v1/owners', { name: 'x', email: 'stray@example.com', kind: 'team' }, fresh.adminToken);
      expect((await fresh.http.get('/v1/audit-events/verify', fresh.adminToken)).body.valid).toBe(true);
      await fresh.dataSource.query(
        `INSERT INTO audit_events (id, at, actor, action, target_type, target_id, request_id, data)
         VALUES (gen_random_uuid(), now(), '{"tokenId":"x","role":"admin","ownerId":null}', 'owner.created', 'owner', 'x', 'r', '{}')`,
      );
      const verify = await fresh.http.get('/v1/audit-events/verify', fresh.adminToken);
      expect(verify.body).toMatchObject({ valid: false, unlinkedEvents: 1 });
    } finally {
      await fresh.close();
    }
  });

  it('links events committed by a writer the chainer did not hear about (another process)', async () => {
    const before = (await t.dataSource.query('SELECT count(*)::int AS n FROM audit_chain'))[0].n;
    // Written as another replica would, so this process's chainer is not poked.
    await t.dataSource.query(
      `WITH e AS (INSERT INTO audit_events (id, at, actor, action, target_type, target_id, request_id, data)
                  VALUES (gen_random_uuid(), now(), '{"tokenId":"replica","role":"system","ownerId":null}', 'test.event', 'test', 'other', 'r', '{}')
                  RETURNING id, created_seq)
       INSERT INTO audit_unchained (event_id, created_seq) SELECT id, created_seq FROM e`,
    );
    // The timer links it without any read forcing a drain.
    const deadline = Date.now() + 5000;
    for (;;) {
      const [{ n }] = await t.dataSource.query('SELECT count(*)::int AS n FROM audit_chain');
      if (n === before + 1) break;
      if (Date.now() > deadline) throw new Error('the chainer did not link the event');
      await new Promise((r) => setTimeout(r, 50));
    }
    const [{ pending }] = await t.dataSource.query('SELECT count(*)::int AS pending FROM audit_unchained');
    expect(pending).toBe(0);
  });
});
