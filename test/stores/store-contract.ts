import { randomBytes, randomUUID } from 'node:crypto';

import {
  SecretStore,
  SecretStoreUnavailableError,
  SecretTarget,
  SecretVersionConflictError,
  SecretVersionNotFoundError,
} from '../../src/secret-stores/secret-store';

/** Fault kinds every remote store's double can inject. */
export type FaultKind = 'server' | 'unavailable' | 'throttle';

export interface StoreFaults {
  /** The next `count` calls fail: 500, 503 (sealed / unavailable) or throttling. */
  fail(count: number, kind: FaultKind): void;
  /** The next `count` calls lose their connection, before or after the store applied them. */
  drop(count: number, afterApplying?: boolean): void;
  /** Every call takes this long (ms) to answer. */
  latency(ms: number): void;
  clear(): void;
}

/**
 * One store under test, with ways to look inside it that do not go through the
 * adapter (SQL for local; the store's own API for Vault and AWS), so the
 * contract checks what really happened in the store.
 */
export interface StoreHarness {
  store: SecretStore;
  /** How many versions the store has made for this credential (destroyed or retired included). */
  versionCount(target: SecretTarget): Promise<number>;
  /** The secret the store serves as current now, or null. */
  currentSecret(target: SecretTarget): Promise<string | null>;
  /** Whether anything of this credential is left in the store. */
  exists(target: SecretTarget): Promise<boolean>;
  /** Present for stores behind a double; absent for local and for real services. */
  faults?: StoreFaults;
  /** The adapter's per-request timeout, when faults can exceed it. */
  timeoutMs?: number;
  /** The same store pointed at an address where nothing listens. */
  unreachable?(): Promise<SecretStore>;
  close(): Promise<void>;
}

export function newTarget(): SecretTarget {
  return { credentialId: randomUUID(), agentId: randomUUID(), ownerId: randomUUID(), environment: 'production' };
}

export function newSecret(): string {
  return `agk_live_${randomBytes(24).toString('base64url')}`;
}

/** The error a store call failed with (the test fails if it succeeded). */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the store call to fail');
}

/**
 * The store contract: the same tests for local, Vault and AWS Secrets Manager.
 * `makeHarness` runs once per file; every test works on credentials of its own.
 */
export function describeStoreContract(label: string, capabilities: { faults: boolean }, makeHarness: () => Promise<StoreHarness>): void {
  describe(`SecretStore contract: ${label}`, () => {
    let h: StoreHarness;
    let store: SecretStore;

    beforeAll(async () => {
      h = await makeHarness();
      store = h.store;
    });
    afterAll(() => h?.close());
    afterEach(() => h.faults?.clear());

    function faults(): StoreFaults {
      if (!h.faults) throw new Error(`${label} has no fault injection`);
      return h.faults;
    }

    /** Version 1 written, version 2 written pending with a rotation token. */
    async function rotated(target = newTarget()) {
      const first = { secret: newSecret(), token: target.credentialId };
      const v1 = await store.writeVersion({ target, version: 1, requestToken: first.token, secret: first.secret });
      const second = { secret: newSecret(), token: randomUUID() };
      const v2 = await store.writeVersion({ target, version: 2, requestToken: second.token, secret: second.secret });
      return { target, v1, v2, first, second };
    }

    describe('write and read', () => {
      it('writes version 1 as current and reads it back by its versionId', async () => {
        const target = newTarget();
        const secret = newSecret();
        const stored = await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret });
        expect(stored.ref).toContain(target.credentialId);
        expect(stored.versionId).toEqual(expect.any(String));
        expect(await store.readVersion(target, stored.versionId)).toBe(secret);
        expect(await h.currentSecret(target)).toBe(secret);
        expect(await h.versionCount(target)).toBe(1);
      });

      it('writes later versions pending: readable, but not current until promoted', async () => {
        const { target, v1, v2, first, second } = await rotated();
        expect(v2.versionId).not.toBe(v1.versionId);
        expect(await store.readVersion(target, v2.versionId)).toBe(second.secret);
        expect(await store.readVersion(target, v1.versionId)).toBe(first.secret);
        expect(await h.currentSecret(target)).toBe(first.secret);
        expect(await h.versionCount(target)).toBe(2);
      });

      it('keeps credentials apart', async () => {
        const a = newTarget();
        const b = { ...newTarget(), agentId: a.agentId };
        const sa = await store.writeVersion({ target: a, version: 1, requestToken: a.credentialId, secret: newSecret() });
        const secretB = newSecret();
        const sb = await store.writeVersion({ target: b, version: 1, requestToken: b.credentialId, secret: secretB });
        expect(sa.ref).not.toBe(sb.ref);
        expect(await store.readVersion(b, sb.versionId)).toBe(secretB);
      });
    });

    describe('idempotent retries', () => {
      it('treats a repeated write (same version, token, secret) as the same version', async () => {
        const target = newTarget();
        const secret = newSecret();
        const input = { target, version: 1, requestToken: target.credentialId, secret };
        const first = await store.writeVersion(input);
        const again = await store.writeVersion(input);
        expect(again).toEqual(first);
        expect(await h.versionCount(target)).toBe(1);
        expect(await store.readVersion(target, first.versionId)).toBe(secret);
      });

      it('refuses a different secret for an existing version with SecretVersionConflictError, keeping the first', async () => {
        const { target, v2, second } = await rotated();
        const error = await rejection(store.writeVersion({ target, version: 2, requestToken: second.token, secret: newSecret() }));
        expect(error).toBeInstanceOf(SecretVersionConflictError);
        expect(await store.readVersion(target, v2.versionId)).toBe(second.secret);
        expect(await h.versionCount(target)).toBe(2);
      });

      it('resumes a crashed rotation: rewriting the pending version, promoting twice, rewriting after promotion change nothing', async () => {
        const { target, v2, first, second } = await rotated();
        const rewrite = { target, version: 2, requestToken: second.token, secret: second.secret };
        expect(await store.writeVersion(rewrite)).toEqual(v2);
        await store.promoteVersion(target, v2.versionId, null);
        await store.promoteVersion(target, v2.versionId, null);
        expect(await store.writeVersion(rewrite)).toEqual(v2);
        // A very late retry of the issuing write must not take "current" back either.
        await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: first.secret });
        expect(await h.currentSecret(target)).toBe(second.secret);
        expect(await h.versionCount(target)).toBe(2);
      });
    });

    describe('concurrent writers of one version', () => {
      it('lets exactly one of several different secrets become the version; the others conflict', async () => {
        const target = newTarget();
        const secrets = Array.from({ length: 6 }, newSecret);
        const results = await Promise.allSettled(
          secrets.map((secret) => store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret })),
        );
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ stored: r.value, secret: secrets[i] }] : []));
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(secrets.length - 1);
        for (const r of lost) expect(r.reason).toBeInstanceOf(SecretVersionConflictError);
        expect(await h.versionCount(target)).toBe(1);
        expect(await store.readVersion(target, won[0].stored.versionId)).toBe(won[0].secret);
      });

      it('lets racing retries of the same rotation write (same secret) all succeed with one version', async () => {
        const target = newTarget();
        await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
        const input = { target, version: 2, requestToken: randomUUID(), secret: newSecret() };
        const results = await Promise.all(Array.from({ length: 6 }, () => store.writeVersion(input)));
        expect(new Set(results.map((r) => r.versionId)).size).toBe(1);
        expect(await h.versionCount(target)).toBe(2);
      });

      it('makes one pending version when rotation writers race with different secrets', async () => {
        const target = newTarget();
        await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() });
        const token = randomUUID();
        const secrets = Array.from({ length: 6 }, newSecret);
        const results = await Promise.allSettled(
          secrets.map((secret) => store.writeVersion({ target, version: 2, requestToken: token, secret })),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(await h.versionCount(target)).toBe(2);
      });
    });

    describe('promote and retire', () => {
      it('promotes the pending version to current; the previous stays readable until destroyed', async () => {
        const { target, v1, v2, first, second } = await rotated();
        await store.promoteVersion(target, v2.versionId, v1.versionId);
        expect(await h.currentSecret(target)).toBe(second.secret);
        expect(await store.readVersion(target, v1.versionId)).toBe(first.secret);

        await store.destroyVersion(target, v1.versionId);
        expect(await rejection(store.readVersion(target, v1.versionId))).toBeInstanceOf(SecretVersionNotFoundError);
        expect(await store.readVersion(target, v2.versionId)).toBe(second.secret);
        expect(await h.currentSecret(target)).toBe(second.secret);
        // Destroying again, or a version that never existed, succeeds.
        await store.destroyVersion(target, v1.versionId);
      });

      it('rotates twice: each promotion moves current on', async () => {
        const { target, v1, v2 } = await rotated();
        await store.promoteVersion(target, v2.versionId, v1.versionId);
        await store.destroyVersion(target, v1.versionId);
        const third = newSecret();
        const v3 = await store.writeVersion({ target, version: 3, requestToken: randomUUID(), secret: third });
        await store.promoteVersion(target, v3.versionId, v2.versionId);
        expect(await h.currentSecret(target)).toBe(third);
        expect(await h.versionCount(target)).toBe(3);
      });

      it('refuses to promote a version that does not exist or was destroyed', async () => {
        const { target, v1, v2 } = await rotated();
        const missing = await rejection(store.promoteVersion(target, await unknownVersionId(v2.versionId), v1.versionId));
        expect(missing).toBeInstanceOf(SecretVersionNotFoundError);
        await store.destroyVersion(target, v2.versionId);
        expect(await rejection(store.promoteVersion(target, v2.versionId, v1.versionId))).toBeInstanceOf(SecretVersionNotFoundError);
        const nobody = await rejection(store.promoteVersion(newTarget(), v1.versionId, null));
        expect(nobody).toBeInstanceOf(SecretVersionNotFoundError);
      });
    });

    describe('not found and delete', () => {
      it('answers unknown credentials and versions with SecretVersionNotFoundError', async () => {
        const { target, v2 } = await rotated();
        expect(await rejection(store.readVersion(newTarget(), v2.versionId))).toBeInstanceOf(SecretVersionNotFoundError);
        expect(await rejection(store.readVersion(target, await unknownVersionId(v2.versionId)))).toBeInstanceOf(SecretVersionNotFoundError);
        expect(await rejection(store.readVersion(target, 'not-a-version'))).toBeInstanceOf(SecretVersionNotFoundError);
      });

      it('deletes every version of a credential; deleting again or deleting nothing succeeds', async () => {
        const { target, v1, v2 } = await rotated();
        await store.deleteAll(target);
        expect(await h.exists(target)).toBe(false);
        for (const v of [v1, v2]) {
          expect(await rejection(store.readVersion(target, v.versionId))).toBeInstanceOf(SecretVersionNotFoundError);
        }
        await store.deleteAll(target);
        await store.deleteAll(newTarget());
        await store.destroyVersion(newTarget(), v1.versionId);
      });

      it('reports itself healthy', async () => {
        await expect(store.checkHealth()).resolves.toBeUndefined();
      });
    });

    // Faults need a double to inject them; local and the real services (integration) have no such tests.
    if (capabilities.faults)
      describe('faults', () => {
        async function expectUnavailable(promise: Promise<unknown>, secret?: string, detail?: RegExp): Promise<void> {
          const error = await rejection(promise);
          expect(error).toBeInstanceOf(SecretStoreUnavailableError);
          expect((error as SecretStoreUnavailableError).code).toBe('SECRET_STORE_UNAVAILABLE');
          expect(error.message).toContain(`Secret store ${store.name} is unavailable`);
          if (secret) expect(error.message).not.toContain(secret);
          if (detail) expect(error.message).toMatch(detail);
        }

        it('retries a transient server error and still makes exactly one version', async () => {
          const target = newTarget();
          const secret = newSecret();
          faults().fail(1, 'server');
          const stored = await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret });
          expect(await store.readVersion(target, stored.versionId)).toBe(secret);
          expect(await h.versionCount(target)).toBe(1);
        });

        it('survives a lost response: the retried write adopts the version the store already made', async () => {
          const { target, second } = await rotated();
          const input = { target, version: 3, requestToken: randomUUID(), secret: newSecret() };
          faults().drop(1, true);
          const stored = await store.writeVersion(input);
          expect(await store.readVersion(target, stored.versionId)).toBe(input.secret);
          expect(await h.versionCount(target)).toBe(3);
          expect(second.secret).not.toBe(input.secret);
        });

        it.each<[FaultKind, RegExp]>([
          ['server', /HTTP 50\d/],
          ['unavailable', /503|sealed/],
          ['throttle', /throttl|HTTP 429/i],
        ])('maps a persistent %s failure to SecretStoreUnavailableError naming the store, never the secret', async (kind, detail) => {
          const target = newTarget();
          const secret = newSecret();
          faults().fail(50, kind);
          await expectUnavailable(store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret }), secret, detail);
          faults().clear();
          expect(await h.exists(target)).toBe(false);
        });

        it('maps failures of every operation, not only writes', async () => {
          const { target, v1, v2 } = await rotated();
          faults().fail(1000, 'server');
          await expectUnavailable(store.readVersion(target, v1.versionId));
          await expectUnavailable(store.promoteVersion(target, v2.versionId, v1.versionId));
          await expectUnavailable(store.destroyVersion(target, v1.versionId));
          await expectUnavailable(store.deleteAll(target));
          await expectUnavailable(store.checkHealth());
          faults().clear();
          await store.checkHealth();
        });

        it('maps dropped connections and timeouts to SecretStoreUnavailableError', async () => {
          const target = newTarget();
          const secret = newSecret();
          faults().drop(50);
          await expectUnavailable(
            store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret }),
            secret,
            /unreachable/,
          );
          faults().clear();
          faults().latency((h.timeoutMs ?? 1000) + 150);
          await expectUnavailable(store.checkHealth(), undefined, /no answer within/);
        });

        it('maps an address where nothing listens to SecretStoreUnavailableError', async () => {
          if (!h.unreachable) throw new Error(`${label} cannot make an unreachable store`);
          const nowhere = await h.unreachable();
          const target = newTarget();
          await expectUnavailable(
            nowhere.writeVersion({ target, version: 1, requestToken: target.credentialId, secret: newSecret() }),
            undefined,
            /ECONNREFUSED|unreachable/,
          );
          await expectUnavailable(nowhere.checkHealth());
        });
      });
  });
}

/** A well-formed versionId that no store has written: a number for Vault/local, a fresh token for AWS. */
async function unknownVersionId(like: string): Promise<string> {
  return /^[0-9]+$/.test(like) ? '99' : randomUUID();
}
