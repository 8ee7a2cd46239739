import { JobSweeper } from '../../src/common/jobs/job-sweeper';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

/** A gateway's table: what it enforces per credential, built from a snapshot and/or events. */
type Version = { secretSha256: string | null; validUntil: string | null };
interface Entry {
  clientId: string;
  agentId: string;
  ownerId: string;
  environment: string;
  scopes: string[];
  rateLimit: { requests: number; perSeconds: number };
  ipAllowlist: string[];
  versions: Map<number, Version>;
}
type Table = Map<string, Entry>;

function termsOf(data: any): Omit<Entry, 'versions'> {
  return {
    clientId: data.clientId,
    agentId: data.agentId,
    ownerId: data.ownerId,
    environment: data.environment,
    scopes: [...data.scopes],
    rateLimit: { requests: data.rateLimit.requests, perSeconds: data.rateLimit.perSeconds },
    ipAllowlist: [...data.ipAllowlist],
  };
}

/** Applies one event the way a gateway would: each event sets what it carries. */
function apply(table: Table, event: { type: string; data: any }): void {
  const data = event.data;
  const id: string = data.credentialId;
  const existing = table.get(id);
  switch (event.type) {
    case 'credential.issued':
      table.set(id, { ...termsOf(data), versions: new Map([[data.secretVersion, { secretSha256: data.secretSha256, validUntil: null }]]) });
      return;
    case 'credential.updated':
      table.set(id, {
        ...termsOf(data),
        versions: existing?.versions ?? new Map([[data.secretVersion, { secretSha256: data.secretSha256, validUntil: null }]]),
      });
      return;
    case 'credential.rotated': {
      const versions = existing?.versions ?? new Map<number, Version>();
      versions.set(data.secretVersion, { secretSha256: data.secretSha256, validUntil: null });
      const previous = versions.get(data.previousVersion);
      if (previous) versions.set(data.previousVersion, { ...previous, validUntil: data.graceEndsAt });
      table.set(id, { ...termsOf(data), versions });
      return;
    }
    case 'credential.version_retired': {
      const versions = existing?.versions ?? new Map<number, Version>();
      versions.delete(data.retiredVersion);
      table.set(id, { ...termsOf(data), versions });
      return;
    }
    case 'credential.revoked':
      table.delete(id);
      return;
    default:
      return;
  }
}

function fromSnapshot(items: any[]): Table {
  const table: Table = new Map();
  for (const item of items) {
    table.set(item.credentialId, {
      ...termsOf(item),
      versions: new Map(item.versions.map((v: any) => [v.version, { secretSha256: v.secretSha256, validUntil: v.validUntil }])),
    });
  }
  return table;
}

/** The table as a gateway enforces it at `now`: versions past their validUntil are refused, so left out. */
function enforced(table: Table, now: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [id, entry] of [...table.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const versions = [...entry.versions.entries()]
      .filter(([, v]) => v.validUntil === null || new Date(v.validUntil).getTime() > now)
      .sort(([a], [b]) => a - b)
      .map(([version, v]) => ({ version, ...v, validUntil: v.validUntil === null ? null : new Date(v.validUntil).toISOString() }));
    out[id] = { ...entry, scopes: [...entry.scopes].sort(), versions };
  }
  return out;
}

/**
 * GET /v1/gateways/:id/credentials and /events: a gateway that rebuilds its
 * table from a snapshot plus a replay ends with exactly the table the
 * webhooks built, even while credentials are issued, changed, rotated and
 * revoked during the snapshot.
 */
describe('gateway sync: snapshot and replay', () => {
  // Rotations and deliveries run on workers; a loaded machine makes them slow.
  jest.setTimeout(240_000);
  let t: TestApp;
  let f: Fixtures;
  let product: any;
  let agent: any;
  let receiver: GatewayReceiver;
  let gatewayId: string;
  let gatewayToken: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { DELIVERY_RETRY_SCHEDULE: '50ms,100ms,200ms', DELIVERY_RETRY_WINDOW: '2s' } });
    f = new Fixtures(t);
    ({ product, agent } = await f.world());
    receiver = await GatewayReceiver.start();
    const created = await t.http.post('/v1/gateways', { name: 'sync-gw', url: receiver.url, environments: ['production'] }, t.adminToken);
    expect(created.status).toBe(201);
    gatewayId = created.body.gateway.id;
    gatewayToken = (await f.token('gateway', undefined, gatewayId)).token;
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  async function snapshotAll(limit: number, between?: () => Promise<void>): Promise<{ items: any[]; eventCursor: string }> {
    const items: any[] = [];
    let cursor: string | null = null;
    let eventCursor: string | null = null;
    do {
      const query: string = `limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
      const r: { status: number; body: any } = await t.http.get(`/v1/gateways/${gatewayId}/credentials?${query}`, gatewayToken);
      expect(r.status).toBe(200);
      if (eventCursor !== null) expect(r.body.eventCursor).toBe(eventCursor);
      eventCursor = r.body.eventCursor;
      items.push(...r.body.items);
      cursor = r.body.nextCursor;
      if (between) await between();
    } while (cursor);
    return { items, eventCursor: eventCursor! };
  }

  async function replay(after: string, limit: number): Promise<any[]> {
    const events: any[] = [];
    let cursor: string | null = after;
    while (cursor !== null) {
      const r: { status: number; body: any } = await t.http.get(
        `/v1/gateways/${gatewayId}/events?after=${cursor}&limit=${limit}`,
        gatewayToken,
      );
      expect(r.status).toBe(200);
      events.push(...r.body.items);
      cursor = r.body.nextCursor;
    }
    return events;
  }

  /**
   * Waits until every delivery to the gateway is answered and no rotation is
   * still to publish its new version (one between published and promoted sends
   * nothing more until promoted). The test app runs no periodic sweep, so a job
   * lost in a race (a delivery blocked behind one acknowledged meanwhile) is
   * found by sweeping here, as the scheduler would, with the clock moved on so
   * retries (scheduled by our clock) come due.
   */
  async function settled(): Promise<void> {
    let lastSweep = 0;
    await eventually(
      async () => {
        const busy = await t.dataSource.query(
          `SELECT 'delivery' AS what, status, event_type || ' attempts=' || attempts || ' next=' || next_attempt_at || ' created=' || created_at || ' now=' || now() AS detail FROM deliveries WHERE gateway_id = $1 AND status = 'pending'
           UNION ALL SELECT 'rotation', step, error FROM rotations WHERE status = 'running' AND step = 'pending'`,
          [gatewayId],
        );
        if (busy.length && performance.now() - lastSweep > 1000) {
          lastSweep = performance.now();
          // A retried step waits for our clock, which only the test moves.
          t.clock.advance(5_000);
          await t.app.get(JobSweeper).sweepAll();
        }
        if (busy.length)
          throw new Error(
            `still running: ${JSON.stringify(busy.slice(0, 3))} ${t.logs.lines
              .filter((l) => /warn|error|"level":[45]/i.test(l))
              .slice(-5)
              .join('\n')}`,
          );
        return true; // eventually() waits for a truthy answer
      },
      150_000,
      'every delivery and rotation done',
    );
  }

  it('snapshot + replay equals the table the webhooks built, with changes during the snapshot', async () => {
    const scopes = [`${product.name}:read`, `${product.name}:write`];
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await f.credential(agent.id, [scopes[0]])).credential.id);

    // Changes run concurrently with the paged snapshot: issue, update, rotate (with grace and immediate), revoke.
    let n = 0;
    const change = async (): Promise<void> => {
      const k = n++;
      const live = ids.filter((id) => id !== '');
      const pick = live[(k * 7) % live.length];
      switch (k % 5) {
        case 0:
          ids.push((await f.credential(agent.id, [scopes[k % 2]])).credential.id);
          break;
        case 1:
          await t.http.patch(`/v1/credentials/${pick}`, { scopes: k % 2 ? scopes : [scopes[0]] }, t.adminToken);
          break;
        case 2:
          await t.http.post(`/v1/credentials/${pick}/rotate`, {}, t.adminToken);
          break;
        case 3:
          await t.http.post(`/v1/credentials/${pick}/rotate`, { immediate: true }, t.adminToken);
          break;
        case 4:
          await t.http.post(`/v1/credentials/${pick}/revoke`, { reason: 'sync test' }, t.adminToken);
          break;
      }
    };
    const background = (async () => {
      for (let i = 0; i < 15; i++) await change();
    })();
    // Pages of three, with a change between pages too.
    const snapshot = await snapshotAll(3, change);
    await background;
    await settled();

    const events = await replay(snapshot.eventCursor, 7);
    const rebuilt = fromSnapshot(snapshot.items);
    for (const event of events) apply(rebuilt, event);

    const fromWebhooks: Table = new Map();
    const seen = new Set<string>();
    for (const webhook of receiver.acknowledged()) {
      const id = webhook.headers['webhook-id'];
      if (seen.has(id)) continue;
      seen.add(id);
      apply(fromWebhooks, webhook.json);
    }
    const now = t.clock.now().getTime();
    expect(enforced(rebuilt, now)).toEqual(enforced(fromWebhooks, now));
    // And both equal a snapshot taken now that nothing moves.
    expect(enforced(fromSnapshot((await snapshotAll(500)).items), now)).toEqual(enforced(fromWebhooks, now));
    expect(Object.keys(enforced(fromWebhooks, now)).length).toBeGreaterThan(5);
    // Rotations and revocations happened: the test can fail on them.
    const types = new Set(events.map((e) => e.type));
    for (const type of ['credential.rotated', 'credential.revoked', 'credential.version_retired']) {
      expect([...receiver.acknowledged()].some((w) => w.json.type === type)).toBe(true);
    }
    expect(types.size).toBeGreaterThan(0);
  });

  it('replay from 0 is exactly the webhooks: same ids, type, timestamp and data, each credential in the order received', async () => {
    await settled();
    const events = await replay('0', 50);
    const webhooks = receiver.acknowledged();
    const byId = new Map(webhooks.map((w) => [w.headers['webhook-id'], w.json]));
    expect(new Set(events.map((e) => e.id))).toEqual(new Set(byId.keys()));
    for (const event of events) {
      expect({ type: event.type, timestamp: event.timestamp, data: event.data }).toEqual(byId.get(event.id));
    }
    // Cursors strictly increase; each credential's events come in the order its webhooks arrived.
    const positions = events.map((e) => BigInt(e.eventCursor));
    for (let i = 1; i < positions.length; i++) expect(positions[i] > positions[i - 1]).toBe(true);
    const order = (list: Array<{ id: string; credentialId: string }>) => {
      const per = new Map<string, string[]>();
      for (const x of list) per.set(x.credentialId, [...(per.get(x.credentialId) ?? []), x.id]);
      return per;
    };
    const firstSeen: Array<{ id: string; credentialId: string }> = [];
    const seen = new Set<string>();
    for (const w of webhooks) {
      if (seen.has(w.headers['webhook-id'])) continue;
      seen.add(w.headers['webhook-id']);
      firstSeen.push({ id: w.headers['webhook-id'], credentialId: w.json.data.credentialId });
    }
    expect(order(events.map((e) => ({ id: e.id, credentialId: e.data.credentialId })))).toEqual(order(firstSeen));
    // No secret, ever: only hashes and references.
    const body = JSON.stringify(events);
    expect(body).not.toMatch(/agk_(live|test)_/);
  });

  it('a snapshot lists every valid version with its hash and the end of its grace period', async () => {
    const issued = await f.credential(agent.id, [`${product.name}:read`]);
    const id = issued.credential.id;
    expect((await t.http.post(`/v1/credentials/${id}/rotate`, {}, t.adminToken)).status).toBe(202);
    await settled();
    const item = (await snapshotAll(500)).items.find((i) => i.credentialId === id);
    expect(item).toMatchObject({ clientId: issued.credential.clientId, agentId: agent.id, environment: 'production' });
    expect(item.versions).toHaveLength(2);
    const [old, current] = item.versions;
    expect(old.version).toBe(1);
    expect(old.secretSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(new Date(old.validUntil).getTime()).toBeGreaterThan(t.clock.now().getTime());
    expect(current).toMatchObject({ version: 2, validUntil: null });
    const [row] = await t.dataSource.query('SELECT new_secret_sha256, from_secret_sha256 FROM rotations WHERE credential_id = $1', [id]);
    expect(current.secretSha256).toBe(row.new_secret_sha256);
    expect(old.secretSha256).toBe(row.from_secret_sha256);
    // Revoked: gone from the snapshot.
    expect((await t.http.post(`/v1/credentials/${id}/revoke`, { reason: 'done' }, t.adminToken)).status).toBe(202);
    expect((await snapshotAll(500)).items.find((i) => i.credentialId === id)).toBeUndefined();
  });

  it('a gateway sees only its own environments and only its own routes', async () => {
    const sandbox = await f.credential(agent.id, [`${product.name}:read`], { environment: 'sandbox' });
    const items = (await snapshotAll(500)).items;
    expect(items.find((i) => i.credentialId === sandbox.credential.id)).toBeUndefined();
    expect(items.every((i) => i.environment === 'production')).toBe(true);

    const other = await f.gateway(['sandbox']);
    for (const path of [`/v1/gateways/${other.id}/credentials`, `/v1/gateways/${other.id}/events?after=0`]) {
      const r = await t.http.get(path, gatewayToken);
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('GATEWAY_MISMATCH');
      expect((await t.http.get(path, t.adminToken)).status).toBe(200);
    }
    const otherItems = (await t.http.get(`/v1/gateways/${other.id}/credentials?limit=1000`, t.adminToken)).body.items;
    expect(otherItems.some((i: any) => i.credentialId === sandbox.credential.id)).toBe(true);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await t.http.get(`/v1/gateways/${missing}/credentials`, t.adminToken)).status).toBe(404);
    expect((await t.http.get(`/v1/gateways/${missing}/events?after=0`, t.adminToken)).status).toBe(404);
    for (const role of ['auditor', 'responder'] as const) {
      const token = (await f.token(role)).token;
      expect((await t.http.get(`/v1/gateways/${gatewayId}/credentials`, token)).status).toBe(403);
    }
    expect((await t.http.get(`/v1/gateways/${gatewayId}/credentials`)).status).toBe(401);
  });

  it.each([
    ['credentials?limit=0', 'limit'],
    ['credentials?limit=1001', 'limit'],
    ['credentials?limit=abc', 'limit'],
    ['credentials?cursor=garbage', 'cursor'],
    [`credentials?cursor=${Buffer.from('["x","1"]').toString('base64url')}`, 'cursor'],
    ['events', 'after'],
    ['events?after=-1', 'after'],
    ['events?after=1.5', 'after'],
    ['events?after=99999999999999999999', 'after'],
    ['events?after=0&limit=0', 'limit'],
    ['events?after=0&limit=5000', 'limit'],
  ])('bad input %s: 400 naming %s', async (query, field) => {
    const r = await t.http.get(`/v1/gateways/${gatewayId}/${query}`, gatewayToken);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(JSON.stringify(r.body)).toContain(field);
  });
});
