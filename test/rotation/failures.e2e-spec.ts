import { setTimeout as sleep } from 'node:timers/promises';

import { RotationQueue } from '../../src/rotation/rotation-queue';
import { RotationRunnerService as RotationRunner } from '../../src/rotation/rotation-runner.service';
import { SecretStoreRegistry } from '../../src/secret-stores/secret-store.registry';
import type { AwsSecretsManagerDouble } from '../doubles/aws-secrets-manager-double';
import { resetStoreDoubles } from '../doubles/store-doubles-env';
import type { VaultDouble } from '../doubles/vault-double';
import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { startStoreDoublesApp, StoreDoublesApp, storeDoublesAppEnv } from '../support/store-doubles-app';
import { startTestApp, TestApp } from '../support/test-app';
import {
  allCompleted,
  credentialRows,
  eventTypes,
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
 * What goes wrong: a store that is down (the rotation fails, the credential
 * keeps its working secret, a person retries it after recovery), a
 * revocation arriving in the middle of a rotation (the revocation wins), and
 * a run that crashed after writing its version (the next run adopts it).
 */
describe('rotation failures', () => {
  let s: StoreDoublesApp;
  let vault: VaultDouble;
  let aws: AwsSecretsManagerDouble;
  let t: TestApp;
  let f: Fixtures;
  let receiver: GatewayReceiver;
  /** A second gateway, slower to answer, so the two see deliveries at different moments. */
  let slow: GatewayReceiver;
  let world: StoreDoublesApp['world'];

  beforeAll(async () => {
    s = await startStoreDoublesApp({
      ROTATION_MAX_ATTEMPTS: '3',
      ROTATION_RETRY_BASE_MS: '20',
      ROTATION_RETRY_MAX_MS: '100',
      DELIVERY_RETRY_SCHEDULE: '100ms,200ms',
    });
    ({ vault, aws, t, f, world } = s);
    receiver = await gatewayFor(t);
    slow = await gatewayFor(t, 'slow-gw');
    slow.respondWith(() => ({ status: 204, delayMs: 40 }));
  });

  afterAll(async () => {
    await s?.close();
    await receiver?.close();
    await slow?.close();
  });

  afterEach(() => resetStoreDoubles(vault, aws));

  const issue = async (secretStore: string) =>
    (await f.credential(world.agent.id, [`${world.product.name}:read`], { secretStore })).credential;

  it('a store outage fails the rotation with the old secret intact; a retry after recovery completes it', async () => {
    const credential = await issue('vault');
    const [before] = await credentialRows(t.dataSource, [credential.id]);
    vault.seal();
    const started = await t.http.post(`/v1/credentials/${credential.id}/rotate`, {}, t.adminToken);
    expect(started.status).toBe(202);
    const [failed] = await waitForRotations(t.dataSource, [credential.id], (r) => r[0]?.status === 'failed', 20_000, 'failed');
    expect(failed).toMatchObject({ step: 'pending', attempts: 3 });
    expect(failed.error).toMatch(/vault.*sealed/);

    // The credential keeps its current secret, and the store still serves it.
    const [during] = await credentialRows(t.dataSource, [credential.id]);
    expect(during).toMatchObject({
      status: 'active',
      secret_version: 1,
      secret_sha256: before.secret_sha256,
      secret_version_id: before.secret_version_id,
    });
    vault.unseal();
    expect(await liveVersions(t, during, { vault })).toEqual([{ id: '1', current: true, sha256: before.secret_sha256 }]);

    // The gateways heard rotation.failed (no credential.rotated); it is a dead letter and a metric.
    await receiver.waitFor((r) => r.events('rotation.failed', credential.id).length === 1, 10_000, 'rotation.failed');
    expect(receiver.events('rotation.failed', credential.id)[0].json.data).toMatchObject({
      rotationId: failed.id,
      secretVersion: 1,
      secretSha256: before.secret_sha256,
      toVersion: 2,
      step: 'pending',
      attempts: 3,
    });
    expect(receiver.events('credential.rotated', credential.id)).toEqual([]);
    const responder = await f.token('responder');
    const dead = await t.http.get('/v1/rotations?status=failed&limit=500', responder.token);
    expect(dead.status).toBe(200);
    expect(dead.body.items).toContainEqual(
      expect.objectContaining({ id: failed.id, credentialId: credential.id, status: 'failed', step: 'pending' }),
    );
    expect(dead.body.items.every((r: any) => r.status === 'failed')).toBe(true);
    const metrics = (await t.http.get('/metrics')).text;
    expect(metrics).toMatch(/rotations_finished_total\{store="vault",outcome="failed"\} [1-9]/);
    expect(metrics).toMatch(/rotation_step_errors_total\{store="vault",step="pending"\} [3-9]/);
    expect(metrics).toMatch(/^rotations_failed [1-9]/m);

    // The scheduler leaves a failed rotation to people: it does not start another for the same version.
    const auditor = await f.token('auditor');
    expect((await t.http.post(`/v1/rotations/${failed.id}/retry`, undefined, auditor.token)).status).toBe(403);
    const retried = await t.http.post(`/v1/rotations/${failed.id}/retry`, undefined, responder.token);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ id: failed.id, status: 'running', attempts: 0, error: null });
    const [done] = await waitForRotations(t.dataSource, [credential.id], allCompleted([credential.id]), 20_000, 'completed after retry');
    expect(done.id).toBe(failed.id);
    const [after] = await credentialRows(t.dataSource, [credential.id]);
    expect(after.secret_version).toBe(2);
    const live = await liveVersions(t, after, { vault });
    expect(live).toEqual(
      expect.arrayContaining([
        { id: '2', current: true, sha256: after.secret_sha256 },
        { id: '1', current: false, sha256: before.secret_sha256 },
      ]),
    );
    await receiver.waitFor((r) => r.events('credential.rotated', credential.id).length === 1, 10_000, 'rotated');
    expect(eventTypes(receiver, credential.id)).toEqual(['credential.issued', 'rotation.failed', 'credential.rotated']);
    expect((await t.http.post(`/v1/rotations/${failed.id}/retry`, undefined, t.adminToken)).body.code).toBe('ROTATION_NOT_FAILED');
  });

  it('an outage after the new version was announced fails at that step; the retry announces a fresh grace period', async () => {
    const credential = await issue('aws');
    const [before] = await credentialRows(t.dataSource, [credential.id]);
    // Secrets Manager takes the new version, then every read of it fails.
    aws.faults.failNext(1000, 500, { match: (c) => c.operation === 'secretsmanager.GetSecretValue' });
    expect((await t.http.post(`/v1/credentials/${credential.id}/rotate`, {}, t.adminToken)).status).toBe(202);
    const [failed] = await waitForRotations(t.dataSource, [credential.id], (r) => r[0]?.status === 'failed', 20_000, 'failed');
    expect(failed.step).toBe('published');
    const [during] = await credentialRows(t.dataSource, [credential.id]);
    expect(during).toMatchObject({ secret_version: 1, secret_sha256: before.secret_sha256 });
    aws.faults.clear();
    // AWSCURRENT is still the old secret; the new one waits as AWSPENDING.
    const live = await liveVersions(t, during, { aws });
    expect(live.find((v) => v.current)).toEqual(expect.objectContaining({ sha256: before.secret_sha256 }));
    expect(live.find((v) => !v.current)).toEqual(expect.objectContaining({ id: failed.id, sha256: failed.new_secret_sha256 }));
    await receiver.waitFor((r) => r.events('rotation.failed', credential.id).length === 1, 10_000, 'rotation.failed');

    t.clock.advance(30 * HOUR); // longer than the announced grace period
    expect((await t.http.post(`/v1/rotations/${failed.id}/retry`, undefined, t.adminToken)).status).toBe(202);
    await waitForRotations(t.dataSource, [credential.id], allCompleted([credential.id]), 20_000, 'completed after retry');
    const [after] = await credentialRows(t.dataSource, [credential.id]);
    // The version written before the outage is the one promoted: written once.
    expect(after).toMatchObject({ secret_version: 2, secret_sha256: failed.new_secret_sha256, secret_version_id: failed.id });
    await receiver.waitFor((r) => r.events('credential.rotated', credential.id).length === 2, 10_000, 'second announcement');
    expect(eventTypes(receiver, credential.id)).toEqual([
      'credential.issued',
      'credential.rotated',
      'rotation.failed',
      'credential.rotated',
    ]);
    const [first, second] = receiver.events('credential.rotated', credential.id);
    expect(second.json.data.secretSha256).toBe(first.json.data.secretSha256);
    expect(new Date(second.json.data.graceEndsAt).getTime()).toBe(t.clock.now().getTime() + 24 * HOUR);
  });

  describe('a revocation arriving mid-rotation wins', () => {
    for (const step of ['pending', 'published', 'verified'] as const) {
      it(`at step ${step}: revoked, the new version destroyed, nothing announced after credential.revoked`, async () => {
        const credential = await issue('vault');
        vault.faults.latencyMs = 250; // every store call takes a while, so each step can be caught
        expect((await t.http.post(`/v1/credentials/${credential.id}/rotate`, {}, t.adminToken)).status).toBe(202);
        await waitForRotations(t.dataSource, [credential.id], (r) => r[0]?.step === step, 20_000, `step ${step}`);
        const revoked = await t.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'leaked mid-rotation' }, t.adminToken);
        expect(revoked.status).toBe(202);

        const [stopped] = await waitForRotations(t.dataSource, [credential.id], (r) => r[0]?.status !== 'running', 20_000, 'stopped');
        expect(stopped.status).toBe('failed');
        expect(stopped.error).toMatch(/^CREDENTIAL_REVOKED/);
        const [row] = await credentialRows(t.dataSource, [credential.id]);
        expect(row).toMatchObject({ status: 'revoked', secret_version: 1 });
        const revocation = await eventually(
          async () => {
            const r = await t.http.get(`/v1/revocations/${revoked.body.revocationId}?waitSeconds=10`, t.adminToken);
            return r.body.secrets?.every((s: any) => s.status === 'destroyed') ? r : null;
          },
          20_000,
          'secret destroyed',
        );
        expect(revocation!.body.status).toBe('complete');
        // Every version of the secret is gone, the new one included (whoever destroyed it first).
        expect(await liveVersions(t, row, { vault })).toEqual([]);
        for (const gateway of [receiver, slow]) {
          await gateway.waitFor((r) => r.events('credential.revoked', credential.id).length === 1, 10_000, 'credential.revoked');
        }
        await sleep(300); // let any late delivery arrive before looking at the order
        for (const gateway of [receiver, slow]) {
          const types = eventTypes(gateway, credential.id);
          expect(types.at(-1)).toBe('credential.revoked');
          expect(types.filter((x) => x === 'credential.rotated').length).toBe(step === 'pending' ? 0 : 1);
        }
        const audit: Array<{ action: string }> = await t.dataSource.query(
          `SELECT action FROM audit_events WHERE target_id = $1 AND action = 'rotation.cancelled'`,
          [credential.id],
        );
        expect(audit).toHaveLength(1);
      });
    }
  });

  describe('recovery without a worker: a run that crashed after writing, a job that was lost', () => {
    let api: TestApp;
    beforeAll(async () => {
      // No worker in this app: the test plays the crashed run and the next one itself.
      api = await startTestApp({ roles: 'api', env: storeDoublesAppEnv(vault, aws) });
    });
    afterAll(() => api?.close());

    it.each(['local', 'vault', 'aws'] as const)(
      '%s: the next run adopts the version the crashed run wrote, and writes no other',
      async (secretStore) => {
        const af = new Fixtures(api);
        const { product, agent } = await af.world();
        const { credential } = await af.credential(agent.id, [`${product.name}:read`], { secretStore });
        const accepted = await api.http.post(`/v1/credentials/${credential.id}/rotate`, {}, api.adminToken);
        expect(accepted.status).toBe(202);
        const rotationId = accepted.body.rotationId;
        const [row] = await credentialRows(api.dataSource, [credential.id]);
        // The crashed run: its secret reached the store as version 2, then the process died before recording it.
        const store = api.app.get(SecretStoreRegistry).get(secretStore);
        const crashed = 'agk_live_' + 'C'.repeat(43) + 'rashed';
        await store.writeVersion({ target: targetOfRow(row), version: 2, requestToken: rotationId, secret: crashed });
        expect((await rotationsOf(api.dataSource, [credential.id]))[0]).toMatchObject({ step: 'pending', new_secret_sha256: null });

        const outcome = await api.app.get(RotationRunner).rotate(rotationId, 'test-resume');
        expect(outcome).toEqual({ kind: 'completed' });
        const [after] = await credentialRows(api.dataSource, [credential.id]);
        expect(after).toMatchObject({ secret_version: 2, secret_sha256: sha256(crashed) });
        const live = await liveVersions(api, after, { vault, aws });
        expect(live.map((v) => [v.current, v.sha256]).sort()).toEqual([
          [false, row.secret_sha256],
          [true, sha256(crashed)],
        ]);
        // Running it again changes nothing.
        expect(await api.app.get(RotationRunner).rotate(rotationId, 'test-again')).toEqual({ kind: 'skipped' });
        expect((await credentialRows(api.dataSource, [credential.id]))[0].secret_sha256).toBe(sha256(crashed));
      },
    );

    it('a rotation whose job was lost (a Redis flush) is enqueued again by the sweep', async () => {
      const af = new Fixtures(api);
      const { product, agent } = await af.world();
      const { credential } = await af.credential(agent.id, [`${product.name}:read`]);
      const accepted = await api.http.post(`/v1/credentials/${credential.id}/rotate`, {}, api.adminToken);
      const queue = api.app.get(RotationQueue).queue('local');
      const jobId = `rotate:${credential.id}:2`;
      await eventually(async () => (await queue.getJobState(jobId)) !== 'unknown', 5000, 'the job enqueued after commit');
      await queue.obliterate({ force: true });
      expect(await queue.getJobState(jobId)).toBe('unknown');

      expect((await sweep(api)).requeued).toBe(0); // not stale yet: its job may simply be waiting
      api.clock.advance(api.config.rotation.staleAfterMs + 1000);
      expect((await sweep(api)).requeued).toBe(1);
      expect(await queue.getJob(jobId)).toMatchObject({ data: { rotationId: accepted.body.rotationId, toVersion: 2 } });
    });
  });
});
