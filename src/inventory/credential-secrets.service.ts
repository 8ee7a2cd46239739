import { createHash, timingSafeEqual } from 'node:crypto';

import { Injectable, Logger } from '@nestjs/common';

import { DependencyUnavailableError } from '../common/errors/domain-error';
import { RandomSource, randomUnit } from '../common/random/random-source';
import { SecretStore, SecretTarget } from '../secret-stores/secret-store';
import { SecretStoreRegistry } from '../secret-stores/secret-store.registry';
import type { Credential } from './credential';
import { formatSecret, SECRET_RANDOM_BYTES } from './credential-secret';
import { nextRotationAt } from './rotation-schedule';

/**
 * A credential's secret in its store, as issuance, approval and claim need
 * it: the first version written (and removed again when its row is not
 * saved), and the current version read back for its one claim.
 */
@Injectable()
export class CredentialSecretsService {
  private readonly logger = new Logger(CredentialSecretsService.name);

  constructor(
    private readonly stores: SecretStoreRegistry,
    private readonly random: RandomSource,
  ) {}

  /** Generates the first secret, writes it to the store and records where it lives on the entity. */
  async writeFirstVersion(store: SecretStore, credential: Credential, now: Date): Promise<string> {
    const secret = formatSecret(credential.environment, this.random.bytes(SECRET_RANDOM_BYTES));
    const stored = await store
      .writeVersion({ target: targetOf(credential), version: 1, requestToken: credential.id, secret })
      .catch(async (error: unknown) => {
        // A write whose answers were all lost may still have landed; no row will point at it, so remove it.
        await this.discard(store, credential);
        throw error;
      });
    credential.secretRef = stored.ref;
    credential.secretVersion = 1;
    credential.secretVersionId = stored.versionId;
    credential.secretSha256 = sha256(secret);
    credential.nextRotationAt = nextRotationAt(now, credential.rotationIntervalDays, randomUnit(this.random));
    return secret;
  }

  /** Removes the secret of a credential whose row was not saved; a failure is logged for a person, never thrown. */
  async discard(store: SecretStore, credential: Credential): Promise<void> {
    try {
      await store.deleteAll(targetOf(credential));
    } catch (error) {
      this.logger.error(
        { credentialId: credential.id, store: store.name, err: (error as Error).message },
        'could not remove the secret of a credential that was not saved; remove it from the store by hand',
      );
    }
  }

  /** The current version's secret, checked against the SHA-256 the inventory holds. */
  async readCurrent(credential: Credential): Promise<string> {
    const store = this.stores.get(credential.secretStore);
    const secret = await store.readVersion(targetOf(credential), credential.secretVersionId!);
    if (!sameDigest(sha256(secret), credential.secretSha256!)) {
      throw new DependencyUnavailableError('SECRET_MISMATCH', 'The secret store returned a secret that does not match the inventory.');
    }
    return secret;
  }
}

/** Where a credential's secret lives in its store: the store names its key after these. */
export function targetOf({ id: credentialId, agentId, ownerId, environment }: Credential): SecretTarget {
  return { credentialId, agentId, ownerId, environment };
}

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

function sameDigest(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
