import { randomUUID } from 'node:crypto';

import { ManualClock } from '../../src/common/clock/clock';
import { SecretStoreUnavailableError } from '../../src/secret-stores/secret-store';
import { VaultSecretStore } from '../../src/secret-stores/vault.store';
import { VaultDouble } from '../doubles/vault-double';
import { quietStoreLogs, stoppingDouble, vaultHarness, VaultHarnessOptions, vaultOptions } from './harnesses';
import { describeStoreContract, newSecret, newTarget, rejection } from './store-contract';

quietStoreLogs();

let vault: VaultDouble;

describeStoreContract('vault (double)', { faults: true }, async () => {
  vault = await new VaultDouble().start();
  return stoppingDouble(await vaultHarness({ address: vault.url, token: vault.rootToken, double: vault }), vault);
});

describe('VaultSecretStore against the Vault double', () => {
  const role = { roleId: 'agc-role', secretId: 'agc-secret-id', tokenTtl: 60, tokenMaxTtl: 3600 };
  const shortRole = { roleId: 'short-role', secretId: 'short-secret-id', tokenTtl: 60, tokenMaxTtl: 70 };
  let double: VaultDouble;
  const stores: VaultSecretStore[] = [];

  function storeWith(options: Partial<VaultHarnessOptions>, clock = new ManualClock()): VaultSecretStore {
    const store = new VaultSecretStore(vaultOptions({ address: double.url, ...options }), clock);
    stores.push(store);
    return store;
  }

  beforeAll(async () => {
    double = await new VaultDouble({ appRoles: [role, shortRole], mounts: ['secret', 'kv-agents'] }).start();
  });
  afterAll(async () => {
    for (const s of stores) s.close();
    await double.stop();
  });
  beforeEach(() => {
    double.faults.clear();
    double.unseal();
    double.setStandby(false);
  });

  it('keeps each credential at <mount>/data/agents/<agentId>/<credentialId> with metadata, max_versions and cas_required', async () => {
    const store = storeWith({ token: double.rootToken });
    const target = newTarget();
    const stored = await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
    expect(stored).toEqual({ ref: `secret/data/agents/${target.agentId}/${target.credentialId}`, versionId: '1' });
    const key = double.key(`agents/${target.agentId}/${target.credentialId}`)!;
    expect(key.customMetadata).toEqual({
      credential_id: target.credentialId,
      agent_id: target.agentId,
      owner_id: target.ownerId,
      environment: 'production',
      current_version: '1',
    });
    expect(key.maxVersions).toBe(20);
    expect(key.casRequired).toBe(true);
    const dataWrites = double.calls.filter((c) => c.operation === `POST secret/data/agents/${target.agentId}/${target.credentialId}`);
    expect(dataWrites.map((c) => (c.body as { options: { cas: number } }).options)).toEqual([{ cas: 0 }]);
  });

  it('moves current_version on promote without making a KV version; retire destroys; revoke destroys all then deletes metadata', async () => {
    const store = storeWith({ token: double.rootToken });
    const target = newTarget();
    const path = `agents/${target.agentId}/${target.credentialId}`;
    await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
    await store.writeVersion({ target, version: 2, requestToken: randomUUID(), secret: newSecret() });
    expect(double.key(path)!.customMetadata!.current_version).toBe('1');
    await store.promoteVersion(target, '2', '1');
    expect(double.key(path)!.customMetadata!.current_version).toBe('2');
    expect(double.key(path)!.currentVersion).toBe(2);

    await store.destroyVersion(target, '1');
    expect(double.key(path)!.versions.get(1)).toMatchObject({ destroyed: true, data: null });

    const before = double.calls.length;
    await store.deleteAll(target);
    expect(double.calls.slice(before).map((c) => c.operation)).toEqual([
      `GET secret/metadata/${path}`,
      `POST secret/destroy/${path}`,
      `DELETE secret/metadata/${path}`,
    ]);
    expect((double.calls.at(-2)!.body as { versions: number[] }).versions).toEqual([2]);
    expect(double.key(path)).toBeUndefined();
  });

  it('uses the configured mount and namespace, and names the namespace in the ref', async () => {
    const store = storeWith({ token: double.rootToken, mount: 'kv-agents', namespace: 'team-a' });
    const target = newTarget();
    const stored = await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
    expect(stored.ref).toBe(`team-a/kv-agents/data/agents/${target.agentId}/${target.credentialId}`);
    expect(double.key(`agents/${target.agentId}/${target.credentialId}`, 'kv-agents', 'team-a')).toBeDefined();
    expect(double.calls.at(-1)!.headers['x-vault-namespace']).toBe('team-a');
  });

  it('logs in with AppRole on first use and renews the token once two thirds of its TTL have passed', async () => {
    const clock = new ManualClock();
    const store = storeWith({ roleId: role.roleId, secretId: role.secretId }, clock);
    const logins = double.count(/approle\/login/);
    const renewals = double.count(/renew-self/);
    const target = newTarget();
    await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
    expect(double.count(/approle\/login/) - logins).toBe(1);
    clock.advance(30_000);
    await store.readVersion(target, '1');
    expect(double.count(/renew-self/) - renewals).toBe(0);
    clock.advance(11_000);
    await store.readVersion(target, '1');
    expect(double.count(/renew-self/) - renewals).toBe(1);
    expect(double.count(/approle\/login/) - logins).toBe(1);
  });

  it('logs in again when Vault refuses the renewal (token revoked) or caps it at the max TTL', async () => {
    const clock = new ManualClock();
    const store = storeWith({ roleId: role.roleId, secretId: role.secretId }, clock);
    const target = newTarget();
    await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
    const logins = double.count(/approle\/login/);
    double.revokeToken(double.calls.at(-1)!.headers['x-vault-token'] as string);
    clock.advance(41_000);
    await store.readVersion(target, '1');
    expect(double.count(/approle\/login/) - logins).toBe(1);

    // max TTL 70 s: at 41 s a renewal can only get about 29 s, so the store logs in afresh.
    const capped = storeWith({ roleId: shortRole.roleId, secretId: shortRole.secretId }, clock);
    await capped.readVersion(target, '1');
    const cappedLogins = double.count(/approle\/login/);
    const renewals = double.count(/renew-self/);
    clock.advance(41_000);
    double.advanceTime(41_000);
    await capped.readVersion(target, '1');
    expect(double.count(/renew-self/) - renewals).toBe(1);
    expect(double.count(/approle\/login/) - cappedLogins).toBe(1);
  });

  it('logs in again and retries once when a call meets 403 (token revoked underneath)', async () => {
    const store = storeWith({ roleId: role.roleId, secretId: role.secretId });
    const target = newTarget();
    const secret = newSecret();
    await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret });
    double.revokeToken(double.calls.at(-1)!.headers['x-vault-token'] as string);
    expect(await store.readVersion(target, '1')).toBe(secret);
  });

  it('renews a renewable static token, and reports wrong AppRole ids or a bad token as unavailable without echoing them', async () => {
    const clock = new ManualClock();
    const token = double.createToken({ ttl: 60, renewable: true });
    const store = storeWith({ token }, clock);
    const renewals = double.count(/renew-self/);
    await store.readVersion(newTarget(), '1').catch(() => undefined);
    clock.advance(45_000);
    await store.readVersion(newTarget(), '1').catch(() => undefined);
    expect(double.count(/renew-self/) - renewals).toBe(1);

    const wrongRole = await rejection(storeWith({ roleId: role.roleId, secretId: 'wrong-secret-id' }).readVersion(newTarget(), '1'));
    expect(wrongRole).toBeInstanceOf(SecretStoreUnavailableError);
    expect(wrongRole.message).toMatch(/VAULT_ROLE_ID/);
    expect(wrongRole.message).not.toContain('wrong-secret-id');

    const badToken = await rejection(storeWith({ token: 'hvs.bad-token-value' }).readVersion(newTarget(), '1'));
    expect(badToken).toBeInstanceOf(SecretStoreUnavailableError);
    expect(badToken.message).toMatch(/permission denied/);
    expect(badToken.message).not.toContain('hvs.bad-token-value');
  });

  it('reports sealed as unavailable at once (no retries), and readiness via sys/health; standby is ready', async () => {
    const store = storeWith({ token: double.rootToken });
    double.seal();
    await expect(store.checkHealth()).rejects.toThrow(/Secret store vault is unavailable: sealed/);
    const before = double.calls.length;
    const target = newTarget();
    const sealedWrite = await rejection(store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() }));
    expect(sealedWrite).toBeInstanceOf(SecretStoreUnavailableError);
    expect(sealedWrite.message).toMatch(/sealed/);
    // The first call (the token's lookup-self) met the seal: no retries, no write.
    expect(double.calls.length - before).toBe(1);
    double.unseal();
    double.setStandby(true);
    await store.checkHealth();
  });

  it('reports a mount with no KV engine as unavailable, not as a missing secret', async () => {
    const store = storeWith({ token: double.rootToken, mount: 'not-mounted' });
    const error = await rejection(store.readVersion(newTarget(), '1'));
    expect(error).toBeInstanceOf(SecretStoreUnavailableError);
    expect(error.message).toMatch(/no KV v2 engine answers at mount not-mounted/);
  });
});
