import { SecretVersionNotFoundError } from '../../src/secret-stores/secret-store';
import { SecretStoreRegistry } from '../../src/secret-stores/secret-store.registry';
import type { AwsSecretsManagerDouble } from '../doubles/aws-secrets-manager-double';
import type { VaultDouble } from '../doubles/vault-double';
import type { Fixtures } from '../support/fixtures';
import type { GatewayReceiver } from '../support/gateway-receiver';
import { startStoreDoublesApp, StoreDoublesApp } from '../support/store-doubles-app';
import type { TestApp } from '../support/test-app';
import {
  allCompleted,
  credentialRows,
  DAY,
  eventTypes,
  expectStoreServesCurrent,
  gatewayFor,
  HOUR,
  liveVersions,
  rotationsOf,
  sha256,
  sweep,
  targetOfRow,
  waitForRotations,
} from './rotation-helpers';

/**
 * Scheduled, manual and emergency rotation on the real app (Postgres, Redis,
 * BullMQ workers), with the three stores: local, and Vault and Secrets
 * Manager as protocol doubles; gateways are real HTTP receivers. Time moves
 * through the app's clock.
 */
describe('rotation', () => {
  let s: StoreDoublesApp;
  let vault: VaultDouble;
  let aws: AwsSecretsManagerDouble;
  let t: TestApp;
  let f: Fixtures;
  let receiver: GatewayReceiver;
  let world: StoreDoublesApp['world'];
  let ownerToken: { id: string; token: string };
  const secrets: string[] = [];

  beforeAll(async () => {
    s = await startStoreDoublesApp({ ROTATION_RETRY_BASE_MS: '20', ROTATION_RETRY_MAX_MS: '200', DELIVERY_RETRY_SCHEDULE: '100ms,200ms' });
    ({ vault, aws, t, f, world } = s);
    ownerToken = await f.token('owner', world.owner.id);
    receiver = await gatewayFor(t);
  });

  afterAll(async () => {
    await s?.close();
    await receiver?.close();
  });

  afterEach(() => {
    vault.faults.clear();
    aws.faults.clear();
  });

  async function issue(overrides: Record<string, unknown> = {}, token = ownerToken.token): Promise<any> {
    const issued = await f.credential(world.agent.id, [`${world.product.name}:read`], overrides, token);
    if (issued.secret) secrets.push(issued.secret);
    return issued.credential;
  }

  it('with the clock moved past 90 days, one sweep rotates every due credential once, on each of the three stores', async () => {
    const stores = ['local', 'vault', 'aws'] as const;
    const issued: any[] = [];
    for (const secretStore of stores) for (let i = 0; i < 3; i++) issued.push(await issue({ secretStore }));
    const ids = issued.map((c) => c.id);
    const before = await credentialRows(t.dataSource, ids);

    expect((await sweep(t)).started).toBe(0); // nothing is due yet
    t.clock.advance(91 * DAY);
    const first = await sweep(t);
    expect(first).toMatchObject({ ran: true, started: ids.length });

    const rotations = await waitForRotations(t.dataSource, ids, allCompleted(ids), 30_000, 'every rotation completed');
    // Sweeping again, even many times, starts nothing new: each due credential rotated once.
    for (let i = 0; i < 3; i++) expect((await sweep(t)).started).toBe(0);
    expect(await rotationsOf(t.dataSource, ids)).toHaveLength(ids.length);
    for (const r of rotations)
      expect(r).toMatchObject({ step: 'promoted', status: 'completed', from_version: 1, to_version: 2, attempts: 0, error: null });

    const after = await credentialRows(t.dataSource, ids);
    const now = t.clock.now().getTime();
    for (const row of after) {
      const old = before.find((b) => b.id === row.id)!;
      expect(row.secret_version).toBe(2);
      expect(row.secret_sha256).not.toBe(old.secret_sha256);
      expect(new Date(row.last_rotated_at!).getTime()).toBe(now);
      // 90 days from now, less at most 1% jitter.
      const next = new Date(row.next_rotation_at!).getTime();
      expect(next).toBeLessThanOrEqual(now + 90 * DAY);
      expect(next).toBeGreaterThanOrEqual(now + 90 * DAY * 0.99);
    }
    // Each store serves the new version as current, and still the old one during the grace period.
    await expectStoreServesCurrent(t, after);
    for (const row of after) {
      const live = await liveVersions(t, row, { vault, aws });
      const old = before.find((b) => b.id === row.id)!;
      expect(live.filter((v) => v.current)).toEqual([expect.objectContaining({ sha256: row.secret_sha256 })]);
      expect(live.map((v) => v.sha256).sort()).toEqual([old.secret_sha256, row.secret_sha256].sort());
    }

    // The gateways heard credential.rotated once per credential, with the new hash, never the secret.
    await receiver.waitFor((r) => ids.every((id) => r.events('credential.rotated', id).length === 1), 15_000, 'credential.rotated');
    for (const row of after) {
      const [event] = receiver.events('credential.rotated', row.id);
      const rotation = rotations.find((r) => r.credential_id === row.id)!;
      expect(event.json.data).toMatchObject({
        credentialId: row.id,
        secretVersion: 2,
        previousVersion: 1,
        secretSha256: row.secret_sha256,
        rotationId: rotation.id,
        graceEndsAt: new Date(now + 24 * HOUR).toISOString(),
      });
    }

    // The requester can claim the new version once.
    const claimed = await t.http.post(`/v1/credentials/${after[0].id}/claim`, undefined, ownerToken.token);
    expect(claimed.status).toBe(200);
    expect(sha256(claimed.body.secret)).toBe(after[0].secret_sha256);
    secrets.push(claimed.body.secret);
    expect((await t.http.post(`/v1/credentials/${after[0].id}/claim`, undefined, ownerToken.token)).status).toBe(409);

    // At the end of the grace period the sweep retires every old version.
    t.clock.advance(24 * HOUR + 1000);
    expect((await sweep(t)).retiring).toBe(ids.length);
    await waitForRotations(
      t.dataSource,
      ids,
      (rows) => rows.every((r) => r.step === 'retired' && r.retired_at !== null),
      20_000,
      'retired',
    );
    const registry = t.app.get(SecretStoreRegistry);
    for (const row of after) {
      const old = before.find((b) => b.id === row.id)!;
      await expect(registry.get(row.secret_store).readVersion(targetOfRow(row), old.secret_version_id)).rejects.toBeInstanceOf(
        SecretVersionNotFoundError,
      );
      expect((await liveVersions(t, row, { vault, aws })).map((v) => v.sha256)).toEqual([row.secret_sha256]);
    }
    await receiver.waitFor((r) => ids.every((id) => r.events('credential.version_retired', id).length === 1), 15_000, 'version_retired');
    for (const id of ids) {
      expect(receiver.events('credential.version_retired', id)[0].json.data).toMatchObject({ retiredVersion: 1, secretVersion: 2 });
      expect(eventTypes(receiver, id)).toEqual(['credential.issued', 'credential.rotated', 'credential.version_retired']);
    }

    // One audit event per state change: scheduled, published, rotated, retired.
    const audit: Array<{ action: string; n: number }> = await t.dataSource.query(
      `SELECT action, count(*)::int AS n FROM audit_events WHERE target_id = ANY ($1) AND action LIKE ANY (ARRAY['rotation.%', 'credential.rotated', 'credential.version_retired'])
        GROUP BY action ORDER BY action`,
      [ids],
    );
    expect(audit).toEqual([
      { action: 'credential.rotated', n: ids.length },
      { action: 'credential.version_retired', n: ids.length },
      { action: 'rotation.published', n: ids.length },
      { action: 'rotation.scheduled', n: ids.length },
    ]);
  });

  it('rotates on request, and an immediate rotation retires every earlier version at once', async () => {
    const credential = await issue({ secretStore: 'vault' });
    const first = await t.http.post(`/v1/credentials/${credential.id}/rotate`, { reason: 'quarterly hygiene' }, ownerToken.token);
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ rotationId: expect.any(String) });
    await waitForRotations(t.dataSource, [credential.id], allCompleted([credential.id]));

    const responder = await f.token('responder');
    t.clock.advance(60_000);
    const leak = await t.http.post(
      `/v1/credentials/${credential.id}/rotate`,
      { immediate: true, reason: 'pasted in a ticket' },
      responder.token,
    );
    expect(leak.status).toBe(202);
    // Without moving the clock: both earlier versions are retired once version 3 is promoted.
    const rows = await waitForRotations(
      t.dataSource,
      [credential.id],
      (r) => r.length === 2 && r.every((x) => x.status === 'completed' && x.retired_at !== null),
      20_000,
      'both retired',
    );
    expect(rows.map((r) => [r.from_version, r.to_version, r.step])).toEqual([
      [1, 2, 'retired'],
      [2, 3, 'retired'],
    ]);
    const [row] = await credentialRows(t.dataSource, [credential.id]);
    expect(row.secret_version).toBe(3);
    expect(await liveVersions(t, row, { vault })).toEqual([{ id: '3', current: true, sha256: row.secret_sha256 }]);

    const history = await t.http.get(`/v1/credentials/${credential.id}/rotations`, ownerToken.token);
    expect(history.status).toBe(200);
    expect(history.body.nextCursor).toBeNull();
    expect(history.body.items).toEqual([
      expect.objectContaining({
        id: leak.body.rotationId,
        step: 'retired',
        status: 'completed',
        fromVersion: 2,
        toVersion: 3,
        immediate: true,
        trigger: 'manual',
        reason: 'pasted in a ticket',
        requestedBy: responder.id,
        startedAt: expect.any(String),
        completedAt: expect.any(String),
        graceEndsAt: expect.any(String),
        retiredAt: expect.any(String),
        error: null,
      }),
      expect.objectContaining({
        id: first.body.rotationId,
        step: 'retired',
        status: 'completed',
        fromVersion: 1,
        toVersion: 2,
        immediate: false,
      }),
    ]);
    // Immediate means no grace: the rotated event said so.
    const rotated = receiver.events('credential.rotated', credential.id);
    await receiver.waitFor((r) => r.events('credential.version_retired', credential.id).length === 2, 10_000, 'two retirements');
    expect(rotated.at(-1)!.json.data).toMatchObject({ secretVersion: 3, immediate: true });
    expect(new Date(rotated.at(-1)!.json.data.graceEndsAt).getTime()).toBeLessThanOrEqual(t.clock.now().getTime());
    expect(
      receiver
        .events('credential.version_retired', credential.id)
        .map((e) => e.json.data.retiredVersion)
        .sort(),
    ).toEqual([1, 2]);
  });

  it('answers 409 while a rotation of the credential runs, and accepts the next one after', async () => {
    const credential = await issue({ secretStore: 'vault' });
    vault.faults.latencyMs = 150;
    const first = await t.http.post(`/v1/credentials/${credential.id}/rotate`, {}, t.adminToken);
    expect(first.status).toBe(202);
    const again = await t.http.post(`/v1/credentials/${credential.id}/rotate`, { immediate: true }, t.adminToken);
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
    expect(again.body.code).toBe('ROTATION_IN_PROGRESS');
    await waitForRotations(t.dataSource, [credential.id], allCompleted([credential.id]), 30_000);
    vault.faults.clear();
    const next = await t.http.post(`/v1/credentials/${credential.id}/rotate`, undefined, t.adminToken);
    expect(next.status).toBe(202);
    await waitForRotations(t.dataSource, [credential.id], allCompleted([credential.id], 2));
  });

  it('answers 409 for a revoked credential and starts nothing', async () => {
    const credential = await issue();
    expect((await t.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'gone' }, t.adminToken)).status).toBe(202);
    const r = await t.http.post(`/v1/credentials/${credential.id}/rotate`, { immediate: true }, t.adminToken);
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('CREDENTIAL_REVOKED');
    expect(await rotationsOf(t.dataSource, [credential.id])).toEqual([]);
    // The scheduler never picks a revoked credential either.
    t.clock.advance(100 * DAY);
    await sweep(t);
    expect(await rotationsOf(t.dataSource, [credential.id])).toEqual([]);
  });

  it('refuses bad input with a 400 naming the field, and unknown ids with 404, storing nothing', async () => {
    const credential = await issue();
    for (const [body, field] of [
      [{ immediate: 'yes' }, 'immediate'],
      [{ reason: '   ' }, 'reason'],
      [{ reason: 'x'.repeat(1001) }, 'reason'],
      [{ urgent: true }, 'urgent'],
    ] as const) {
      const r = await t.http.post(`/v1/credentials/${credential.id}/rotate`, body, t.adminToken);
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.errors.map((e: any) => e.field)).toContain(field);
    }
    expect((await t.http.post('/v1/credentials/not-a-uuid/rotate', {}, t.adminToken)).status).toBe(400);
    const missing = await t.http.post('/v1/credentials/00000000-0000-4000-8000-000000000000/rotate', {}, t.adminToken);
    expect(missing.status).toBe(404);
    expect((await t.http.get('/v1/credentials/00000000-0000-4000-8000-000000000000/rotations', t.adminToken)).status).toBe(404);
    expect((await t.http.post('/v1/rotations/00000000-0000-4000-8000-000000000000/retry', undefined, t.adminToken)).status).toBe(404);
    expect((await t.http.get('/v1/rotations?status=stuck', t.adminToken)).body.errors).toEqual([
      expect.objectContaining({ field: 'status' }),
    ]);
    expect(await rotationsOf(t.dataSource, [credential.id])).toEqual([]);
  });

  it('lets an owner rotate only its own credentials and read only their history', async () => {
    const credential = await issue();
    const other = await f.owner();
    const otherToken = await f.token('owner', other.id);
    expect((await t.http.post(`/v1/credentials/${credential.id}/rotate`, {}, otherToken.token)).status).toBe(403);
    expect((await t.http.get(`/v1/credentials/${credential.id}/rotations`, otherToken.token)).status).toBe(403);
    const auditor = await f.token('auditor');
    expect((await t.http.post(`/v1/credentials/${credential.id}/rotate`, {}, auditor.token)).status).toBe(403);
    expect((await t.http.get(`/v1/credentials/${credential.id}/rotations`, auditor.token)).status).toBe(200);
    expect(await rotationsOf(t.dataSource, [credential.id])).toEqual([]);
  });

  it('lists the rotations in the OpenAPI document', async () => {
    const doc = await t.http.get('/docs-json');
    for (const path of ['/v1/credentials/{id}/rotate', '/v1/credentials/{id}/rotations', '/v1/rotations', '/v1/rotations/{id}/retry']) {
      expect(Object.keys(doc.body.paths)).toContain(path);
    }
  });

  it('never writes a secret to Postgres, a log line, an audit event or a webhook body', async () => {
    expect(secrets.length).toBeGreaterThan(5);
    // The new secrets exist only in the stores: read them all back for the check.
    const rows: Array<{ id: string }> = await t.dataSource.query(`SELECT id FROM credentials WHERE status = 'active'`);
    const current = await credentialRows(
      t.dataSource,
      rows.map((r) => r.id),
    );
    const registry = t.app.get(SecretStoreRegistry);
    const all = [...secrets];
    for (const row of current) all.push(await registry.get(row.secret_store).readVersion(targetOfRow(row), row.secret_version_id));
    const logs = t.logs.text();
    const bodies = receiver.received.map((r) => r.body).join('\n');
    const [{ dump }] = await t.dataSource.query(
      `SELECT (SELECT coalesce(string_agg(r::text, ''), '') FROM rotations r) || (SELECT coalesce(string_agg(a::text, ''), '') FROM audit_events a)
              || (SELECT coalesce(string_agg(o::text, ''), '') FROM outbox_events o) || (SELECT coalesce(string_agg(c::text, ''), '') FROM credentials c) AS dump`,
    );
    for (const secret of all) {
      expect(logs).not.toContain(secret);
      expect(bodies).not.toContain(secret);
      expect(dump).not.toContain(secret);
    }
  });

  it('exposes rotation metrics', async () => {
    const metrics = await t.http.get('/metrics');
    expect(metrics.text).toMatch(/rotations_finished_total\{store="vault",outcome="completed"\} [1-9]/);
    expect(metrics.text).toMatch(/rotations_started_total\{store="local",trigger="scheduled"\} [1-9]/);
    expect(metrics.text).toContain('rotations_failed ');
    expect(metrics.text).toContain('rotation_duration_seconds_bucket');
  });
});
