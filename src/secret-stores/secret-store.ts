import { DependencyUnavailableError, DomainError } from '../common/errors/domain-error';
import type { SecretStoreName } from '../config/app-config';

export type { SecretStoreName };

/** Which secret a store call is about. Every adapter derives its location from this alone. */
export interface SecretTarget {
  credentialId: string;
  agentId: string;
  ownerId: string;
  environment: 'sandbox' | 'production';
}

export interface WriteSecretVersion {
  target: SecretTarget;
  /** Our logical version: 1 at issuance, +1 per rotation. */
  version: number;
  /**
   * Idempotency token (a UUID: the credential id at issuance, the rotation id
   * after). Retrying a write with the same version, token and secret succeeds
   * without creating another version.
   */
  requestToken: string;
  secret: string;
}

export interface StoredSecretVersion {
  /** Where the secret lives, for people and agents: a Vault path, an ARN, `local:<id>`. */
  ref: string;
  /** The store's own id for this version (Vault/local: the number; AWS: the VersionId). */
  versionId: string;
}

/**
 * The port every secret store implements. Version 1 becomes current when
 * written; later versions are written pending and become current on
 * promoteVersion, so a crashed rotation never takes the working secret away.
 * Every method is safe to retry.
 */
export abstract class SecretStore {
  abstract readonly name: SecretStoreName;

  /**
   * Writes a version exactly once. Throws SecretVersionConflictError when that
   * version already holds a different secret (the caller may read and adopt it).
   */
  abstract writeVersion(input: WriteSecretVersion): Promise<StoredSecretVersion>;

  /** Returns the secret of a version; SecretVersionNotFoundError if missing or destroyed. */
  abstract readVersion(target: SecretTarget, versionId: string): Promise<string>;

  /** Makes a pending version current; the previous current one stays readable until destroyed. */
  abstract promoteVersion(target: SecretTarget, versionId: string, previousVersionId: string | null): Promise<void>;

  /** Destroys one version for good. Destroying a missing version succeeds. */
  abstract destroyVersion(target: SecretTarget, versionId: string): Promise<void>;

  /** Deletes the secret with every version. Deleting a missing secret succeeds. */
  abstract deleteAll(target: SecretTarget): Promise<void>;

  /** How many deleteAll calls a batch of destructions has in flight at once (a store that groups them takes more). */
  readonly deletionsInFlight: number = 16;

  /** Throws SecretStoreUnavailableError when the store cannot serve requests now. */
  abstract checkHealth(): Promise<void>;
}

/** The store is down, sealed, throttling or unreachable: 503, nothing was changed. */
export class SecretStoreUnavailableError extends DependencyUnavailableError {
  constructor(
    readonly store: SecretStoreName,
    detail: string,
  ) {
    super('SECRET_STORE_UNAVAILABLE', `Secret store ${store} is unavailable: ${detail}`);
  }
}

export class SecretVersionNotFoundError extends DomainError {
  constructor(store: SecretStoreName, versionId: string) {
    super('not_found', 'SECRET_VERSION_NOT_FOUND', `Secret version ${versionId} is not in store ${store}.`);
  }
}

export class SecretVersionConflictError extends DomainError {
  constructor(store: SecretStoreName, version: number) {
    super('conflict', 'SECRET_VERSION_CONFLICT', `Store ${store} already holds a different secret as version ${version}.`);
  }
}

/** A store that cannot destroy the version its consumers read now (Secrets Manager's AWSCURRENT). */
export class SecretVersionIsCurrentError extends DomainError {
  constructor(store: SecretStoreName, versionId: string) {
    super(
      'conflict',
      'SECRET_VERSION_CURRENT',
      `Version ${versionId} is the current version in store ${store}; promote another version first.`,
    );
  }
}
