import type { SecretStoreName } from '../config/app-config';

/**
 * Wait before the next try after `failures` failed tries: `baseMs` doubled per
 * failure, at most `maxMs`, less up to 10% jitter (so rotations that failed
 * together, in a store outage, do not all come back in the same second).
 */
export function rotationBackoffMs(failures: number, baseMs: number, maxMs: number, randomUnit: number): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 30);
  const delay = Math.min(baseMs * 2 ** exponent, maxMs);
  const jitter = Math.floor(delay * 0.1 * Math.min(Math.max(randomUnit, 0), 1));
  return Math.max(1, delay - jitter);
}

/**
 * The store's id of the version a rotation writes, known before the write
 * answers (a crashed write, or a conflict to adopt). It follows the port's
 * contract (StoredSecretVersion.versionId): Vault and the local store number
 * versions as we do; AWS Secrets Manager names a version by the write's
 * ClientRequestToken, which is the rotation id.
 */
export function expectedVersionId(store: SecretStoreName, version: number, rotationId: string): string {
  return store === 'aws' ? rotationId : String(version);
}
