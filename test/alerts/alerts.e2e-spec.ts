import { createHmac, randomBytes } from 'node:crypto';

import { VolumeSpikeCron } from '../../src/alerts/volume-spike.cron';
import { DAY_MS, HOUR_MS } from '../../src/common/clock/clock';
import { UsageRecorderService } from '../../src/enforcement/usage-recorder.service';
import { Fixtures } from '../support/fixtures';
import { GatewayReceiver, ReceivedWebhook } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const AUTH_FAILURES = 5;
const SPIKE_MIN = 100;

/**
 * Anomaly alerts: each type raised from the calls that cross its line (verify,
 * authz and reported usage, detected in the usage recorder's flush), one
 * unresolved alert per type and credential that repeats count into, the
 * volume-spike sweep over closed hours (seven days of baseline by the injected
 * clock), policies carried out once by the system, acknowledge and resolve,
 * signed notifications to a real receiver, audit, owners' view, bad input, and
 * no secret anywhere.
 */
describe('alerts: detection, policies and notifications', () => {
  let t: TestApp;
  let f: Fixtures;
  let notifier: GatewayReceiver;
  let world: { owner: any; product: any; agent: any };
  let gateway: { id: string; token: string };
  let ownerToken: string;
  let otherOwnerToken: string;
  let responderToken: string;
  const secrets: string[] = [];
  const flush = () => t.app.get(UsageRecorderService).flush();

  const issue = async (overrides: Record<string, unknown> = {}) => {
    const made = await f.credential(world.agent.id, [`${world.product.name}:read`], overrides);
    secrets.push(made.secret!);
    return { id: made.credential.id as string, secret: made.secret! };
  };
  const verify = (key: string, ip: string, scope = `${world.product.name}:read`) =>
    t.http.post('/v1/verify', { key, scope, ip }, gateway.token);
  const alertsOf = async (credentialId: string, type?: string) => {
    const r = await t.http.get(`/v1/alerts?credentialId=${credentialId}${type ? `&type=${type}` : ''}&limit=500`, f.admin);
    expect(r.status).toBe(200);
    return r.body.items as any[];
  };
  const raised = (credentialId: string, type = 'alert.raised') =>
    notifier.acknowledged().filter((r) => r.json?.type === type && r.json?.data?.credentialId === credentialId);
  const auditOf = async (targetId: string, action: string) =>
    (await t.http.get(`/v1/audit-events?targetId=${targetId}&action=${action}&limit=500`, f.admin)).body.items as any[];
  const signedWithSecret = (hook: ReceivedWebhook) => {
    const expected = createHmac('sha256', Buffer.from(SECRET.slice(6), 'base64'))
      .update(`${hook.headers['webhook-id']}.${hook.headers['webhook-timestamp']}.${hook.body}`)
      .digest('base64');
    return hook.headers['webhook-signature'] === `v1,${expected}`;
  };
  const report = (events: unknown[]) => t.http.post('/v1/usage', { events }, gateway.token);
  const event = (credentialId: string, at: Date, overrides: Record<string, unknown> = {}) => ({
    credentialId,
    at: at.toISOString(),
    method: 'GET',
    path: '/orders',
    statusCode: 200,
    ip: '198.51.100.7',
    requestId: `req-${Math.random()}`,
    outcome: 'allowed',
    ...overrides,
  });

  beforeAll(async () => {
    notifier = await GatewayReceiver.start();
    t = await startTestApp({
      env: {
        NOTIFY_WEBHOOK_URL: notifier.url,
        NOTIFY_WEBHOOK_SECRET: SECRET,
        ALERT_AUTH_FAILURES_PER_MINUTE: String(AUTH_FAILURES),
        ALERT_SPIKE_MIN_CALLS: String(SPIKE_MIN),
        // The tests flush recorded usage themselves (flush()), so each batch is what a test made it: the recorder's
        // own timer, left at its 1 s default, split a burst in two on a loaded machine.
        USAGE_FLUSH_INTERVAL_MS: '60000',
      },
    });
    f = new Fixtures(t);
    world = await f.world();
    const gw = await f.gateway(['production', 'sandbox']);
    gateway = { id: gw.id, token: (await f.token('gateway', undefined, gw.id)).token };
    ownerToken = (await f.token('owner', world.owner.id)).token;
    otherOwnerToken = (await f.token('owner', (await f.owner()).id)).token;
    responderToken = (await f.token('responder')).token;
  });
  afterAll(async () => {
    await t.close();
    await notifier.close();
  });

  it('ip_not_allowed: a call from outside the allowlist raises one high alert; repeats count into it; alert.raised is signed and sent once', async () => {
    const { id, secret } = await issue({ ipAllowlist: ['203.0.113.0/24'] });
    expect((await verify(secret, '203.0.113.9')).body.code).toBe('VALID');
    expect((await verify(secret, '192.0.2.50')).body.code).toBe('IP_DENIED');
    await flush();
    let [alert] = await alertsOf(id, 'ip_not_allowed');
    expect(alert).toMatchObject({
      type: 'ip_not_allowed',
      severity: 'high',
      status: 'open',
      credentialId: id,
      agentId: world.agent.id,
      ownerId: world.owner.id,
      count: 1,
      action: null,
    });
    expect(alert.evidence).toMatchObject({ calls: 1, ips: ['192.0.2.50'], allowlist: ['203.0.113.0/24'] });
    const firstSeen = alert.firstSeenAt;

    t.clock.advance(5000);
    await verify(secret, '192.0.2.51');
    await verify(secret, '192.0.2.51');
    await flush();
    const all = await alertsOf(id, 'ip_not_allowed');
    expect(all).toHaveLength(1);
    alert = all[0];
    expect(alert.count).toBe(3);
    expect(alert.firstSeenAt).toBe(firstSeen);
    expect(new Date(alert.lastSeenAt).getTime()).toBeGreaterThan(new Date(firstSeen).getTime());
    expect(alert.evidence.ips).toEqual(['192.0.2.51']);

    await notifier.waitFor(() => raised(id).length === 1, 10_000, 'alert.raised');
    const [hook] = raised(id);
    expect(signedWithSecret(hook)).toBe(true);
    expect(hook.json.data).toMatchObject({ id: alert.id, type: 'ip_not_allowed', severity: 'high', credentialId: id, count: 1 });
    // A repeat sends nothing more.
    await new Promise((r) => setTimeout(r, 300));
    expect(raised(id)).toHaveLength(1);
    expect(await auditOf(alert.id, 'alert.raised')).toHaveLength(1);
    expect(await auditOf(alert.id, 'alert.repeated')).toHaveLength(1);
  });

  it('auth_failures: the denial that reaches the per-minute threshold raises it, counted across flushes; rate limiting is not a failure', async () => {
    const { id, secret } = await issue();
    const wrongScope = `${world.product.name}:write`;
    t.clock.set(new Date(Math.ceil(t.clock.now().getTime() / 60_000) * 60_000 + 1000));
    for (let i = 0; i < AUTH_FAILURES - 1; i++) expect((await verify(secret, '198.51.100.1', wrongScope)).body.code).toBe('SCOPE_DENIED');
    await flush();
    expect(await alertsOf(id, 'auth_failures')).toHaveLength(0);
    // Reported by a gateway that verifies itself, in the same minute: the fifth.
    expect((await report([event(id, t.clock.now(), { outcome: 'denied', denyCode: 'SCOPE_DENIED', statusCode: 403 })])).body.accepted).toBe(
      1,
    );
    await flush();
    const [alert] = await alertsOf(id, 'auth_failures');
    expect(alert).toMatchObject({ severity: 'medium', count: 1 });
    expect(alert.evidence).toMatchObject({ denials: AUTH_FAILURES, threshold: AUTH_FAILURES, codes: { SCOPE_DENIED: 1 } });
    // More in the same minute: no new crossing.
    await verify(secret, '198.51.100.1', wrongScope);
    await flush();
    expect((await alertsOf(id, 'auth_failures'))[0].count).toBe(1);

    const limited = await issue({ rateLimit: { requests: 1, perSeconds: 3600 } });
    for (let i = 0; i < AUTH_FAILURES + 2; i++) await verify(limited.secret, '198.51.100.1');
    await flush();
    expect(await alertsOf(limited.id, 'auth_failures')).toHaveLength(0);
  });

  it('auth_failures: a burst split across two replicas (each below the threshold) crosses it once', async () => {
    const second = await startTestApp({
      roles: 'api',
      database: t.database,
      clock: t.clock,
      env: { ...t.env, ADMIN_TOKEN: t.adminToken, REDIS_PREFIX: t.redisPrefix },
    });
    try {
      const { id, secret } = await issue();
      const wrongScope = `${world.product.name}:write`;
      t.clock.set(new Date(Math.ceil(t.clock.now().getTime() / 60_000) * 60_000 + 1000));
      const deny = async (app: TestApp) =>
        expect((await app.http.post('/v1/verify', { key: secret, scope: wrongScope, ip: '198.51.100.3' }, gateway.token)).body.code).toBe(
          'SCOPE_DENIED',
        );
      // The second replica's share first, written alone: below the threshold. (The first replica
      // records nothing until then, so its own periodic flush cannot add to the count early.)
      const secondShare = Math.floor(AUTH_FAILURES / 2);
      for (let i = 0; i < secondShare; i++) await deny(second);
      await second.app.get(UsageRecorderService).flush();
      expect(await alertsOf(id, 'auth_failures')).toHaveLength(0);
      for (let i = secondShare; i < AUTH_FAILURES; i++) await deny(t);
      await flush();
      const all = await alertsOf(id, 'auth_failures');
      expect(all).toHaveLength(1);
      expect(all[0]).toMatchObject({ count: 1 });
      expect(all[0].evidence.denials).toBe(AUTH_FAILURES);
    } finally {
      await second.close({ keepState: true });
    }
  });

  it('retired_key_used: a revoked key presented at verify, and a leak report of it, count into one high alert', async () => {
    const { id, secret } = await issue();
    expect((await t.http.post(`/v1/credentials/${id}/revoke`, { reason: 'test' }, f.admin)).status).toBe(202);
    expect((await verify(secret, '198.51.100.2')).body.code).toBe('REVOKED');
    await flush();
    const [alert] = await alertsOf(id, 'retired_key_used');
    expect(alert).toMatchObject({ severity: 'high', count: 1 });
    expect(alert.evidence).toMatchObject({ via: 'usage', codes: { REVOKED: 1 }, versions: [1], credentialStatus: 'revoked' });
    const leak = await t.http.post('/v1/leaks', { secret, source: 'pastebin' }, f.admin);
    expect(leak.status).toBe(200);
    expect(leak.body).toMatchObject({ matched: true, versionState: 'revoked', actionTaken: 'none', alertId: alert.id });
    const after = (await alertsOf(id, 'retired_key_used'))[0];
    expect(after.count).toBe(2);
    expect(after.evidence).toMatchObject({ via: 'leak_report', versionState: 'revoked', source: 'pastebin' });
  });

  it('dormant_reactivated: a use after 30 days without one; new_network: a /24 or /48 unseen for 30 days, not the first', async () => {
    const { id, secret } = await issue();
    await verify(secret, '198.51.100.20');
    await flush();
    expect(await alertsOf(id)).toEqual([]); // the first network is the baseline, and the credential is new

    await verify(secret, '198.51.100.99'); // the same /24
    await verify(secret, '2001:db8:aa::1');
    await flush();
    let network = await alertsOf(id, 'new_network');
    expect(network).toHaveLength(1);
    expect(network[0]).toMatchObject({ severity: 'low', count: 1 });
    expect(network[0].evidence).toMatchObject({ network: '2001:db8:aa::/48', ip: '2001:db8:aa::1', previouslySeenAt: null });
    await verify(secret, '2001:db8:aa:ffff::9'); // the same /48
    await verify(secret, '203.0.113.200');
    await flush();
    network = await alertsOf(id, 'new_network');
    expect(network[0].count).toBe(2);
    expect(network[0].evidence.network).toBe('203.0.113.0/24');
    expect(await alertsOf(id, 'dormant_reactivated')).toEqual([]);

    t.clock.advance(31 * DAY_MS);
    await verify(secret, '198.51.100.20');
    await flush();
    const [dormant] = await alertsOf(id, 'dormant_reactivated');
    expect(dormant).toMatchObject({ severity: 'medium', count: 1 });
    expect(dormant.evidence.idleDays).toBe(31);
    // After 31 days every network was forgotten: no baseline, so no new_network either.
    expect((await alertsOf(id, 'new_network'))[0].count).toBe(2);

    // A credential with an allowlist is never watched for new networks.
    const listed = await issue({ ipAllowlist: ['198.51.100.0/24', '192.0.2.0/24'] });
    await verify(listed.secret, '198.51.100.1');
    await flush();
    await verify(listed.secret, '192.0.2.1');
    await flush();
    expect(await alertsOf(listed.id, 'new_network')).toEqual([]);
  });

  it('raising a sighting does not hold the recorder: the batch is written while the alert waits; flush resolves once it is raised', async () => {
    const { id, secret } = await issue();
    await verify(secret, '198.51.100.20');
    await flush();
    t.clock.advance(31 * DAY_MS);
    await verify(secret, '198.51.100.20'); // dormant_reactivated
    const callsOf = async () =>
      (await t.dataSource.query(`SELECT coalesce(sum(calls), 0)::int AS n FROM usage_hourly WHERE credential_id = $1`, [id]))[0].n;
    expect(await callsOf()).toBe(1);
    // Another session holds the alerts table: the alert cannot be written until it lets go.
    const blocker = t.dataSource.createQueryRunner();
    await blocker.connect();
    await blocker.startTransaction();
    let flushed = false;
    try {
      await blocker.query('LOCK TABLE alerts IN SHARE ROW EXCLUSIVE MODE');
      const flushing = flush().then(() => (flushed = true));
      const deadline = Date.now() + 5_000;
      while ((await callsOf()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await callsOf()).toBe(2);
      expect(flushed).toBe(false);
      expect(await alertsOf(id, 'dormant_reactivated')).toEqual([]);
      await blocker.commitTransaction();
      await flushing;
    } finally {
      if (blocker.isTransactionActive) await blocker.rollbackTransaction();
      await blocker.release();
    }
    expect(flushed).toBe(true);
    expect(await alertsOf(id, 'dormant_reactivated')).toHaveLength(1);
  });

  it('a burst of sightings is raised in one transaction; a sighting that cannot be raised costs only itself', async () => {
    const wake = async (count: number) => {
      const made = [];
      for (let i = 0; i < count; i++) made.push(await issue());
      for (const m of made) await verify(m.secret, '198.51.100.20');
      await flush();
      return made;
    };
    const burst = await wake(5);
    const failing = await wake(3);
    t.clock.advance(31 * DAY_MS);
    for (const m of burst) await verify(m.secret, '198.51.100.20');
    await flush();
    const rows = await t.dataSource.query(
      `SELECT xmin::text AS tx FROM alerts WHERE type = 'dormant_reactivated' AND credential_id = ANY($1::uuid[])`,
      [burst.map((m) => m.id)],
    );
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((r: { tx: string }) => r.tx)).size).toBe(1);

    // One of the next batch's alerts cannot be written: its transaction fails, the others are raised one by one.
    const [bad, ...good] = failing;
    await t.dataSource.query(`
      CREATE FUNCTION refuse_one_alert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.credential_id = '${bad.id}' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$`);
    await t.dataSource.query(`CREATE TRIGGER refuse_one_alert BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION refuse_one_alert()`);
    try {
      for (const m of failing) await verify(m.secret, '198.51.100.20');
      await flush();
      for (const m of good) expect(await alertsOf(m.id, 'dormant_reactivated')).toHaveLength(1);
      expect(await alertsOf(bad.id, 'dormant_reactivated')).toEqual([]);
      expect(t.logs.text()).toContain('raising an alert failed');
    } finally {
      await t.dataSource.query('DROP TRIGGER refuse_one_alert ON alerts; DROP FUNCTION refuse_one_alert()');
    }
  });

  it('volume_spike: a closed hour above 5x the median hour of the week before and above the minimum, evaluated once', async () => {
    const spiking = await issue();
    const steady = await issue();
    const young = await issue();
    t.clock.advance(8 * DAY_MS);
    const hour = Math.floor(t.clock.now().getTime() / HOUR_MS) * HOUR_MS;
    // A week of baseline, reported by a gateway: 10 calls an hour for `spiking`, 100 for `steady`.
    for (const [cred, perHour] of [
      [spiking.id, 10],
      [steady.id, 100],
    ] as const) {
      let batch: unknown[] = [];
      for (let h = 1; h <= 168; h++) {
        for (let i = 0; i < perHour; i++) {
          batch.push(event(cred, new Date(hour - h * HOUR_MS + i * 1000)));
          if (batch.length === 1000) {
            expect((await report(batch)).body.rejected).toEqual([]);
            batch = [];
          }
        }
      }
      if (batch.length) expect((await report(batch)).body.rejected).toEqual([]);
    }
    // This hour: 200 calls each (spiking: 20x its median; steady: 2x), and 200 for a credential with no week behind it.
    for (const cred of [spiking.id, steady.id]) {
      expect((await report(Array.from({ length: 200 }, (_, i) => event(cred, new Date(hour + i * 1000))))).body.accepted).toBe(200);
    }
    await t.dataSource.query(`UPDATE credentials SET created_at = $2 WHERE id = $1`, [young.id, new Date(hour - 2 * DAY_MS)]);
    expect((await report(Array.from({ length: 200 }, (_, i) => event(young.id, new Date(hour + i * 1000))))).body.accepted).toBe(200);
    await flush();

    const cron = t.app.get(VolumeSpikeCron);
    await cron.round(); // the hour is not closed yet
    expect(await alertsOf(spiking.id, 'volume_spike')).toEqual([]);
    t.clock.set(new Date(hour + HOUR_MS + 2 * 60_000));
    const round = await cron.round();
    expect(round.spikes).toBe(1);
    const [spike] = await alertsOf(spiking.id, 'volume_spike');
    expect(spike).toMatchObject({ severity: 'medium', count: 1 });
    expect(spike.evidence).toMatchObject({ hour: new Date(hour).toISOString(), calls: 200, medianHourlyCalls: 10, factor: 5 });
    expect(await alertsOf(steady.id, 'volume_spike')).toEqual([]);
    expect(await alertsOf(young.id, 'volume_spike')).toEqual([]);
    expect((await cron.round()).spikes).toBe(0);
    expect((await alertsOf(spiking.id, 'volume_spike'))[0].count).toBe(1);
    await notifier.waitFor(() => raised(spiking.id).some((h) => h.json.data.type === 'volume_spike'), 10_000, 'volume_spike raised');
  });

  it('policies: every type listed (none by default); revoke and rotate carried out once by the system, audited, linked in action', async () => {
    const listed = await t.http.get('/v1/alert-policies', f.admin);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual(
      ['ip_not_allowed', 'auth_failures', 'retired_key_used', 'volume_spike', 'dormant_reactivated', 'new_network'].map((type) => ({
        type,
        action: 'none',
      })),
    );
    expect((await t.http.request('PUT', '/v1/alert-policies/ip_not_allowed', { action: 'revoke' }, { token: f.admin })).body).toEqual({
      type: 'ip_not_allowed',
      action: 'revoke',
    });
    expect((await t.http.request('PUT', '/v1/alert-policies/new_network', { action: 'rotate' }, { token: f.admin })).status).toBe(200);
    expect((await t.http.get('/v1/alert-policies', responderToken)).body.items).toContainEqual({
      type: 'ip_not_allowed',
      action: 'revoke',
    });
    expect(await auditOf('ip_not_allowed', 'alert_policy.updated')).toHaveLength(1);

    const { id, secret } = await issue({ ipAllowlist: ['203.0.113.0/24'] });
    await verify(secret, '192.0.2.77');
    await flush();
    const [alert] = await alertsOf(id, 'ip_not_allowed');
    expect(alert.action).toMatchObject({ type: 'revoke', revocationId: expect.any(String) });
    const credential = (await t.http.get(`/v1/credentials/${id}`, f.admin)).body;
    expect(credential.status).toBe('revoked');
    const [revoked] = await auditOf(id, 'credential.revoked');
    expect(revoked.actor).toMatchObject({ role: 'system', tokenId: 'system:alerts' });
    const [taken] = await auditOf(alert.id, 'alert.action_taken');
    expect(taken.data).toMatchObject({ type: 'revoke', revocationId: alert.action.revocationId });
    await notifier.waitFor(() => raised(id).length === 1, 10_000, 'alert.raised with its action');
    expect(raised(id)[0].json.data.action).toMatchObject({ type: 'revoke', revocationId: alert.action.revocationId });

    const rotating = await issue();
    await verify(rotating.secret, '198.51.100.30');
    await flush();
    await verify(rotating.secret, '192.0.2.30');
    await flush();
    const [net] = await alertsOf(rotating.id, 'new_network');
    expect(net.action).toMatchObject({ type: 'rotate', rotationId: expect.any(String) });
    const rotation = (await t.http.get(`/v1/rotations/${net.action.rotationId}`, f.admin)).body;
    expect(rotation).toMatchObject({ credentialId: rotating.id, immediate: true });
    // A repeat (reported by a gateway: the old key may be retired by now) counts into the alert and acts no more.
    expect((await report([event(rotating.id, t.clock.now(), { ip: '192.0.3.30' })])).body.accepted).toBe(1);
    await flush();
    const again = (await alertsOf(rotating.id, 'new_network'))[0];
    expect(again.count).toBe(2);
    expect(again.action.rotationId).toBe(net.action.rotationId);
    expect(await auditOf(net.id, 'alert.action_taken')).toHaveLength(1);

    // An action that cannot be done (rotating a revoked credential) is recorded as skipped; the alert stands.
    await t.http.request('PUT', '/v1/alert-policies/retired_key_used', { action: 'rotate' }, { token: f.admin });
    const gone = await issue();
    expect((await t.http.post(`/v1/credentials/${gone.id}/revoke`, { reason: 'test' }, f.admin)).status).toBe(202);
    expect((await verify(gone.secret, '198.51.100.31')).body.code).toBe('REVOKED');
    await flush();
    const [skipped] = await alertsOf(gone.id, 'retired_key_used');
    expect(skipped.action).toEqual({ type: 'rotate', at: expect.any(String), skipped: expect.stringContaining('revoked') });
    expect(await t.dataSource.query(`SELECT id FROM rotations WHERE credential_id = $1`, [gone.id])).toEqual([]);
    expect(await auditOf(skipped.id, 'alert.action_taken')).toHaveLength(1);
    for (const type of ['ip_not_allowed', 'new_network', 'retired_key_used']) {
      await t.http.request('PUT', `/v1/alert-policies/${type}`, { action: 'none' }, { token: f.admin });
    }
  });

  it('acknowledge and resolve: audited and notified; repeats count into an acknowledged alert; a resolved one never reopens', async () => {
    const { id, secret } = await issue({ ipAllowlist: ['203.0.113.0/24'] });
    await verify(secret, '192.0.2.90');
    await flush();
    const [alert] = await alertsOf(id, 'ip_not_allowed');
    const acked = await t.http.post(`/v1/alerts/${alert.id}/acknowledge`, undefined, responderToken);
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: expect.any(String), acknowledgedAt: expect.any(String) });
    expect((await t.http.post(`/v1/alerts/${alert.id}/acknowledge`, undefined, responderToken)).status).toBe(200);
    await verify(secret, '192.0.2.91');
    await flush();
    const repeated = await alertsOf(id, 'ip_not_allowed');
    expect(repeated).toHaveLength(1);
    expect(repeated[0]).toMatchObject({ status: 'acknowledged', count: 2 });

    expect((await t.http.post(`/v1/alerts/${alert.id}/resolve`, {}, f.admin)).status).toBe(400);
    const resolved = await t.http.post(`/v1/alerts/${alert.id}/resolve`, { note: 'partner moved networks' }, f.admin);
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({ status: 'resolved', resolutionNote: 'partner moved networks' });
    expect((await t.http.post(`/v1/alerts/${alert.id}/acknowledge`, undefined, f.admin)).status).toBe(409);
    await verify(secret, '192.0.2.92');
    await flush();
    const afterResolve = await alertsOf(id, 'ip_not_allowed');
    expect(afterResolve).toHaveLength(2);
    expect(afterResolve[0]).toMatchObject({ status: 'open', count: 1 });
    expect(afterResolve[1]).toMatchObject({ id: alert.id, status: 'resolved', count: 2 });
    expect((await t.http.get(`/v1/alerts?credentialId=${id}&status=resolved`, f.admin)).body.items.map((a: any) => a.id)).toEqual([
      alert.id,
    ]);

    for (const action of ['alert.acknowledged', 'alert.resolved']) expect(await auditOf(alert.id, action)).toHaveLength(1);
    await notifier.waitFor(
      () => raised(id, 'alert.acknowledged').length === 1 && raised(id, 'alert.resolved').length === 1 && raised(id).length === 2,
      10_000,
      'acknowledged, resolved and a second raised',
    );
    expect(raised(id, 'alert.resolved')[0].json.data).toMatchObject({ id: alert.id, status: 'resolved' });
  });

  it('owners read their own credentials’ alerts only; another’s is a 404', async () => {
    const { id, secret } = await issue({ ipAllowlist: ['203.0.113.0/24'] });
    await verify(secret, '192.0.2.60');
    await flush();
    const [alert] = await alertsOf(id, 'ip_not_allowed');
    expect((await t.http.get(`/v1/alerts/${alert.id}`, ownerToken)).body.id).toBe(alert.id);
    expect((await t.http.get(`/v1/alerts/${alert.id}`, otherOwnerToken)).status).toBe(404);
    const own = await t.http.get('/v1/alerts?limit=500', ownerToken);
    expect(own.body.items.length).toBeGreaterThan(0);
    expect(own.body.items.every((a: any) => a.ownerId === world.owner.id)).toBe(true);
    expect((await t.http.get('/v1/alerts?limit=500', otherOwnerToken)).body.items).toEqual([]);
    expect((await t.http.get(`/v1/alerts?ownerId=${world.owner.id}`, otherOwnerToken)).status).toBe(403);
    expect((await t.http.post(`/v1/alerts/${alert.id}/acknowledge`, undefined, ownerToken)).status).toBe(403);
  });

  it('pages like other lists', async () => {
    const first = await t.http.get('/v1/alerts?limit=2', f.admin);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await t.http.get(`/v1/alerts?limit=2&cursor=${first.body.nextCursor}`, f.admin);
    expect(second.body.items.map((a: any) => a.id)).not.toContain(first.body.items[0].id);
  });

  it('bad input is a 400 naming the field, and changes nothing', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['GET', '/v1/alerts?status=closed', undefined, 'status'],
      ['GET', '/v1/alerts?type=bogus', undefined, 'type'],
      ['GET', '/v1/alerts?credentialId=nope', undefined, 'credentialId'],
      ['GET', '/v1/alerts?limit=0', undefined, 'limit'],
      ['GET', '/v1/alerts?cursor=xyz', undefined, 'cursor'],
      ['PUT', '/v1/alert-policies/ip_not_allowed', { action: 'delete' }, 'action'],
      ['PUT', '/v1/alert-policies/ip_not_allowed', { action: 'none', extra: 1 }, 'extra'],
      ['PUT', '/v1/alert-policies/Not-A-Type', { action: 'none' }, 'type'],
      ['POST', `/v1/alerts/00000000-0000-4000-8000-000000000000/resolve`, { note: ' ' }, 'note'],
      ['POST', `/v1/alerts/00000000-0000-4000-8000-000000000000/resolve`, { note: 7 }, 'note'],
    ];
    const before = await t.dataSource.query(`SELECT (SELECT count(*) FROM alerts) AS a, (SELECT count(*) FROM alert_policies) AS p`);
    for (const [method, path, body, field] of cases) {
      const r = await t.http.request(method, path, body, { token: f.admin });
      expect([method, path, r.status]).toEqual([method, path, 400]);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.errors.map((e: any) => e.field)).toContain(field);
    }
    expect(await t.dataSource.query(`SELECT (SELECT count(*) FROM alerts) AS a, (SELECT count(*) FROM alert_policies) AS p`)).toEqual(
      before,
    );
    expect((await t.http.request('PUT', '/v1/alert-policies/bogus', { action: 'none' }, { token: f.admin })).status).toBe(404);
    expect((await t.http.get('/v1/alerts/not-a-uuid', f.admin)).status).toBe(400);
    expect((await t.http.get('/v1/alerts/00000000-0000-4000-8000-000000000000', f.admin)).status).toBe(404);
  });

  it('no secret reaches an alert, its evidence, a webhook body or the audit log', async () => {
    expect(secrets.length).toBeGreaterThan(5);
    const alerts = JSON.stringify(await t.dataSource.query(`SELECT * FROM alerts`));
    const audit = JSON.stringify(await t.dataSource.query(`SELECT * FROM audit_events WHERE action LIKE 'alert%'`));
    const hooks = notifier.received.map((r) => r.body).join('\n');
    expect(hooks).toContain('alert.raised');
    for (const secret of [...secrets, SECRET]) {
      expect(alerts).not.toContain(secret);
      expect(audit).not.toContain(secret);
      expect(hooks).not.toContain(secret);
    }
    expect(alerts).not.toMatch(/agk_(live|test)_/);
    expect(hooks).not.toMatch(/agk_(live|test)_/);
  });
});
