import { Fixtures } from '../support/fixtures';
import { GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';
import { DAY, ReviewHelpers } from './review-helpers';

/**
 * Deadlines driven by the injectable clock: the sweep closes a campaign once
 * its dueAt has passed, undecided items expire and get onExpiry (keep or
 * revoke); an admin can close by hand.
 */
describe('review deadlines', () => {
  let t: TestApp;
  let f: Fixtures;
  let h: ReviewHelpers;
  let gateway: GatewayReceiver;
  let product: any;

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    h = new ReviewHelpers(t, f);
    gateway = await GatewayReceiver.start();
    expect(
      (await t.http.post('/v1/gateways', { name: 'gw-deadlines', url: gateway.url, environments: ['production'] }, f.admin)).status,
    ).toBe(201);
    product = await f.product();
  });
  afterAll(async () => {
    await t.close();
    await gateway.close();
  });

  /** An owner with three active credentials and its token. */
  async function ownerWithCredentials(): Promise<{ owner: any; token: string; creds: any[] }> {
    const owner = await f.owner();
    const agent = await f.agent(owner.id);
    const creds = [];
    for (let i = 0; i < 3; i++) creds.push((await f.credential(agent.id, [`${product.name}:read`, `${product.name}:write`])).credential);
    return { owner, token: (await f.token('owner', owner.id)).token, creds };
  }

  it('with onExpiry keep: at dueAt the sweep expires undecided items and leaves their access', async () => {
    const { owner, token, creds } = await ownerWithCredentials();
    const campaign = await h.open({ name: 'keep on expiry', ownerIds: [owner.id], dueInDays: 2, onExpiry: 'keep' });
    const decided = await h.itemOf(campaign.id, creds[0].id);
    expect((await h.decide(campaign.id, decided.id, { decision: 'reduce', scopes: [`${product.name}:read`] }, token)).status).toBe(200);

    // Not yet: a day before the deadline, and one millisecond before it.
    t.clock.advance(DAY);
    expect((await h.sweep()).closed).toBe(0);
    t.clock.set(new Date(new Date(campaign.dueAt).getTime() - 1));
    await h.sweep();
    expect((await t.http.get(`/v1/campaigns/${campaign.id}`, f.admin)).body.status).toBe('open');

    t.clock.set(new Date(campaign.dueAt));
    const swept = await h.sweep();
    expect(swept.closed).toBeGreaterThanOrEqual(1);
    // No NOTIFY_WEBHOOK_URL here: no reminders are recorded as sent.
    expect(swept.reminded).toBe(0);
    const progress = await t.http.get(`/v1/campaigns/${campaign.id}`, f.admin);
    expect(progress.body).toMatchObject({
      status: 'closed',
      closedAt: campaign.dueAt,
      closedBy: 'system:reviews',
      closeReason: 'deadline',
      decidedCount: 1,
      expiredCount: 2,
      pendingCount: 0,
    });
    const items = await h.items(campaign.id);
    for (const c of creds.slice(1)) {
      expect(items.find((i) => i.credentialId === c.id)).toMatchObject({
        status: 'expired',
        decision: null,
        outcome: 'kept_on_expiry',
        scopesAfter: c.scopes,
        resolvedAt: campaign.dueAt,
      });
      expect((await h.credential(c.id)).status).toBe('active');
    }
    expect(items.find((i) => i.credentialId === creds[0].id)).toMatchObject({ status: 'decided', outcome: 'reduced' });
    expect(await h.auditActions(campaign.id)).toEqual(['campaign.closed', 'campaign.opened']);
    // A second sweep finds nothing to do; closing by hand is a 409.
    expect((await h.sweep()).closed).toBe(0);
    const again = await t.http.post(`/v1/campaigns/${campaign.id}/close`, undefined, f.admin);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('CAMPAIGN_CLOSED');
    // The owner can still attest to the outcome, expired items included.
    const signoff = await t.http.post(`/v1/campaigns/${campaign.id}/signoff`, {}, token);
    expect(signoff.status).toBe(201);
    expect(signoff.body.itemCount).toBe(3);
  });

  it('with onExpiry revoke: at dueAt undecided credentials are revoked and the gateways hear it', async () => {
    const { owner, token, creds } = await ownerWithCredentials();
    const campaign = await h.open({ name: 'revoke on expiry', ownerIds: [owner.id], dueInDays: 1, onExpiry: 'revoke' });
    const kept = await h.itemOf(campaign.id, creds[0].id);
    expect((await h.decide(campaign.id, kept.id, { decision: 'keep' }, token)).status).toBe(200);
    await h.revoke(creds[2].id, 'revoked by a responder meanwhile');

    t.clock.set(new Date(new Date(campaign.dueAt).getTime() + 1000));
    await h.sweep();
    const items = await h.items(campaign.id);
    expect(items.find((i) => i.credentialId === creds[0].id)).toMatchObject({ status: 'decided', outcome: 'kept' });
    expect(items.find((i) => i.credentialId === creds[1].id)).toMatchObject({
      status: 'expired',
      outcome: 'revoked_on_expiry',
      scopesAfter: [],
    });
    expect(items.find((i) => i.credentialId === creds[2].id)).toMatchObject({ status: 'expired', outcome: 'revoked_elsewhere' });
    expect((await h.credential(creds[0].id)).status).toBe('active');
    const revoked = await h.credential(creds[1].id);
    expect(revoked.status).toBe('revoked');
    expect(revoked.revokedReason).toContain('expired undecided');
    expect((await h.credential(creds[2].id)).revokedReason).toBe('revoked by a responder meanwhile');
    await gateway.waitFor((g) => g.events('credential.revoked', creds[1].id).length === 1, 10_000, 'credential.revoked');
    const closedAudit = await t.http.get(`/v1/audit-events?targetId=${campaign.id}&action=campaign.closed`, f.admin);
    expect(closedAudit.body.items[0].data).toMatchObject({ reason: 'deadline', onExpiry: 'revoke', expiredCount: 2, revokedCount: 1 });
    expect(closedAudit.body.items[0].actor.tokenId).toBe('system:reviews');
  });

  it('an admin closes by hand before the deadline; only admins may', async () => {
    const { owner, creds } = await ownerWithCredentials();
    const campaign = await h.open({ name: 'closed by hand', ownerIds: [owner.id], dueInDays: 30, onExpiry: 'revoke' });
    for (const role of ['auditor', 'responder'] as const) {
      expect((await t.http.post(`/v1/campaigns/${campaign.id}/close`, undefined, (await f.token(role)).token)).status).toBe(403);
    }
    const r = await t.http.post(`/v1/campaigns/${campaign.id}/close`, undefined, f.admin);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'closed', closeReason: 'manual', closedBy: 'bootstrap-admin', expiredCount: 3 });
    for (const c of creds) expect((await h.credential(c.id)).status).toBe('revoked');
    expect((await t.http.post('/v1/campaigns/7a1f4a8e-8f5e-4c1e-9a51-3a4b5c6d7e8f/close', undefined, f.admin)).status).toBe(404);
  });

  it('closes with onExpiry revoke over more credentials than one statement takes (1,051): one revocation, each event and audit entry once', async () => {
    const owner = await f.owner();
    const agent = await f.agent(owner.id);
    const template = (await f.credential(agent.id, [`${product.name}:read`])).credential;
    // 1,049 more, copied in SQL from the one issued through the API (their secrets are never read here).
    await t.dataSource.query(
      `INSERT INTO credentials (id, client_id, agent_id, owner_id, type, environment, scopes, rate_limit_requests, rate_limit_per_seconds,
         ip_allowlist, secret_store, secret_ref, secret_version, secret_version_id, secret_sha256, secret_delivered_version, status,
         rotation_interval_days, grace_period_hours, next_rotation_at, requested_by, created_at, updated_at)
       SELECT g.id, 'agc_' || replace(g.id::text, '-', ''), c.agent_id, c.owner_id, c.type, c.environment, c.scopes, c.rate_limit_requests,
              c.rate_limit_per_seconds, c.ip_allowlist, c.secret_store, 'local:' || g.id, 1, '1', c.secret_sha256, 1, 'active',
              c.rotation_interval_days, c.grace_period_hours, c.next_rotation_at, c.requested_by, c.created_at, c.updated_at
         FROM credentials c, (SELECT gen_random_uuid() AS id FROM generate_series(1, 1049)) g
        WHERE c.id = $1`,
      [template.id],
    );
    // Another owner's credential that sorts after all of them, so the revocation learns of a second owner only in
    // its second chunk: it names no single owner in the end.
    const other = await f.owner();
    const otherAgent = await f.agent(other.id);
    const last = 'ffffffff-ffff-4fff-bfff-ffffffffffff';
    await t.dataSource.query(
      `INSERT INTO credentials (id, client_id, agent_id, owner_id, type, environment, scopes, rate_limit_requests, rate_limit_per_seconds,
         ip_allowlist, secret_store, secret_ref, secret_version, secret_version_id, secret_sha256, secret_delivered_version, status,
         rotation_interval_days, grace_period_hours, next_rotation_at, requested_by, created_at, updated_at)
       SELECT $2::uuid, 'agc_last', $3, $4, c.type, c.environment, c.scopes, c.rate_limit_requests, c.rate_limit_per_seconds, c.ip_allowlist,
              c.secret_store, 'local:' || $2::text, 1, '1', c.secret_sha256, 1, 'active', c.rotation_interval_days, c.grace_period_hours,
              c.next_rotation_at, c.requested_by, c.created_at, c.updated_at
         FROM credentials c WHERE c.id = $1`,
      [template.id, last, otherAgent.id, other.id],
    );
    const campaign = await h.open({ name: 'revoke on expiry, many', ownerIds: [owner.id, other.id], dueInDays: 1, onExpiry: 'revoke' });
    expect(campaign.itemCount).toBe(1051);
    const closed = await t.http.post(`/v1/campaigns/${campaign.id}/close`, undefined, f.admin);
    expect(closed.status).toBe(200);
    expect(closed.body.expiredCount).toBe(1051);
    const [lastOne] = await t.dataSource.query(
      `SELECT c.status, r.owner_id, r.agent_id FROM credentials c JOIN revocation_credentials rc ON rc.credential_id = c.id
         JOIN revocations r ON r.id = rc.revocation_id WHERE c.id = $1`,
      [last],
    );
    expect(lastOne).toEqual({ status: 'revoked', owner_id: null, agent_id: null });

    const [{ revoked }] = await t.dataSource.query(
      `SELECT count(*)::int AS revoked FROM credentials WHERE owner_id = $1 AND status = 'revoked'`,
      [owner.id],
    );
    expect(revoked).toBe(1050);
    const revocations = await t.dataSource.query(
      `SELECT revocation_id, count(*)::int AS n FROM revocation_credentials rc JOIN credentials c ON c.id = rc.credential_id
        WHERE c.owner_id = $1 GROUP BY revocation_id`,
      [owner.id],
    );
    expect(revocations).toEqual([{ revocation_id: expect.any(String), n: 1050 }]);
    const [{ same }] = await t.dataSource.query('SELECT count(*)::int AS same FROM revocation_credentials WHERE revocation_id = $1', [
      revocations[0].revocation_id,
    ]);
    expect(same).toBe(1051);
    const [{ events, distinct }] = await t.dataSource.query(
      `SELECT count(*)::int AS events, count(DISTINCT e.credential_id)::int AS distinct FROM outbox_events e JOIN credentials c ON c.id = e.credential_id
        WHERE c.owner_id = $1 AND e.type = 'credential.revoked'`,
      [owner.id],
    );
    expect({ events, distinct }).toEqual({ events: 1050, distinct: 1050 });
    const [{ audited }] = await t.dataSource.query(
      `SELECT count(DISTINCT a.target_id)::int AS audited FROM audit_events a JOIN credentials c ON c.id::text = a.target_id
        WHERE c.owner_id = $1 AND a.action = 'credential.revoked'`,
      [owner.id],
    );
    expect(audited).toBe(1050);
    const verify = await t.http.get('/v1/audit-events/verify', f.admin);
    expect(verify.body.valid).toBe(true);
  });
});
