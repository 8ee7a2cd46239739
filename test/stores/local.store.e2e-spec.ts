import { randomUUID } from 'node:crypto';

import { SecretVersionConflictError, SecretVersionNotFoundError } from '../../src/secret-stores/secret-store';
import { createTestDatabase, dropTestDatabase } from '../support/test-db';
import { localHarness, quietStoreLogs } from './harnesses';
import { describeStoreContract, newSecret, newTarget, StoreHarness } from './store-contract';

quietStoreLogs();

let database: { name: string; url: string };

describeStoreContract('local (Postgres)', { faults: false }, async () => {
  database = await createTestDatabase();
  const harness = await localHarness(database.url);
  return {
    ...harness,
    async close() {
      await harness.close();
      await dropTestDatabase(database.name);
    },
  };
});

/**
 * The local store serves calls made together with one statement each (group
 * commit). Made in the same turn of the event loop, these calls share a batch:
 * every one must still get its own answer.
 */
describe('local store: calls that share a batch', () => {
  let h: StoreHarness;
  let db: { name: string; url: string };

  beforeAll(async () => {
    db = await createTestDatabase();
    h = await localHarness(db.url);
  });
  afterAll(async () => {
    await h.close();
    await dropTestDatabase(db.name);
  });

  it('writes, reads and promotes many credentials at once, each with its own secret', async () => {
    const targets = Array.from({ length: 40 }, newTarget);
    const first = targets.map(() => newSecret());
    const second = targets.map(() => newSecret());
    await Promise.all(
      targets.map((target, i) => h.store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: first[i] })),
    );
    await Promise.all(
      targets.map((target, i) => h.store.writeVersion({ target, version: 2, requestToken: randomUUID(), secret: second[i] })),
    );
    expect(await Promise.all(targets.map((target) => h.store.readVersion(target, '1')))).toEqual(first);
    expect(await Promise.all(targets.map((target) => h.store.readVersion(target, '2')))).toEqual(second);

    await Promise.all(targets.map((target) => h.store.promoteVersion(target, '2', '1')));
    expect(await Promise.all(targets.map((target) => h.currentSecret(target)))).toEqual(second);
    expect(await Promise.all(targets.map((target) => h.versionCount(target)))).toEqual(targets.map(() => 2));
  });

  it('answers each call of a mixed batch on its own: found and missing, new and conflicting', async () => {
    const known = newTarget();
    const secret = newSecret();
    await h.store.writeVersion({ target: known, version: 1, requestToken: known.credentialId, secret });
    const fresh = newTarget();
    const freshSecret = newSecret();
    const [read, missing, conflict, written, retry] = await Promise.allSettled([
      h.store.readVersion(known, '1'),
      h.store.readVersion(newTarget(), '1'),
      h.store.writeVersion({ target: known, version: 1, requestToken: known.credentialId, secret: newSecret() }),
      h.store.writeVersion({ target: fresh, version: 1, requestToken: fresh.credentialId, secret: freshSecret }),
      h.store.writeVersion({ target: known, version: 1, requestToken: known.credentialId, secret }),
    ]);
    expect(read).toEqual({ status: 'fulfilled', value: secret });
    expect(missing.status === 'rejected' && missing.reason).toBeInstanceOf(SecretVersionNotFoundError);
    expect(conflict.status === 'rejected' && conflict.reason).toBeInstanceOf(SecretVersionConflictError);
    expect(written.status).toBe('fulfilled');
    expect(retry.status).toBe('fulfilled');
    expect(await h.currentSecret(known)).toBe(secret);
    expect(await h.currentSecret(fresh)).toBe(freshSecret);
  });

  it('deletes every version of many credentials asked together, the same one twice too, and nothing of the others', async () => {
    const doomed = Array.from({ length: 30 }, newTarget);
    const kept = Array.from({ length: 3 }, newTarget);
    for (const target of [...doomed, ...kept]) {
      await h.store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
      await h.store.writeVersion({ target, version: 2, requestToken: randomUUID(), secret: newSecret() });
    }
    const keptSecrets = await Promise.all(kept.map((target) => h.store.readVersion(target, '2')));

    const results = await Promise.allSettled([...doomed, doomed[0]].map((target) => h.store.deleteAll(target)));
    expect(results.map((r) => r.status)).toEqual([...doomed, doomed[0]].map(() => 'fulfilled'));
    expect(await Promise.all(doomed.map((target) => h.versionCount(target)))).toEqual(doomed.map(() => 0));
    await expect(h.store.readVersion(doomed[7], '2')).rejects.toBeInstanceOf(SecretVersionNotFoundError);
    expect(await Promise.all(kept.map((target) => h.versionCount(target)))).toEqual(kept.map(() => 2));
    expect(await Promise.all(kept.map((target) => h.store.readVersion(target, '2')))).toEqual(keptSecrets);
  });

  it('applies two promotions of one credential in one batch in the order asked, and refuses a missing version beside them', async () => {
    const target = newTarget();
    const secrets = [newSecret(), newSecret(), newSecret()];
    for (const [i, secret] of secrets.entries()) {
      await h.store.writeVersion({ target, version: i + 1, requestToken: randomUUID(), secret });
    }
    const other = newTarget();
    await h.store.writeVersion({ target: other, version: 1, requestToken: other.credentialId, secret: newSecret() });
    const results = await Promise.allSettled([
      h.store.promoteVersion(target, '2', '1'),
      h.store.promoteVersion(target, '3', '2'),
      h.store.promoteVersion(other, '2', '1'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(SecretVersionNotFoundError);
    expect(await h.currentSecret(target)).toBe(secrets[2]);
  });
});
