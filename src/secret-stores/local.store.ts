import { timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock/clock';
import { SecretBox, WrongKeyError } from '../common/crypto/secret-box';
import { AppConfig } from '../config/app-config';
import { LocalSecretVersionEntity } from './entities/local-secret-version.entity';
import {
  SecretStore,
  SecretStoreUnavailableError,
  SecretTarget,
  SecretVersionConflictError,
  SecretVersionNotFoundError,
  StoredSecretVersion,
  WriteSecretVersion,
} from './secret-store';

/**
 * The embedded store: AES-256-GCM under LOCAL_STORE_KEY (SecretBox), one row
 * per version in its own table. The additional authenticated data binds each
 * ciphertext to its credential and version, so a row copied onto another fails
 * to decrypt.
 */
@Injectable()
export class LocalSecretStore extends SecretStore {
  readonly name = 'local' as const;
  private readonly box: SecretBox;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    config: AppConfig,
  ) {
    super();
    this.box = new SecretBox(config.secretStores.local.key);
  }

  async writeVersion(input: WriteSecretVersion): Promise<StoredSecretVersion> {
    const { target, version } = input;
    const sealed = this.box.seal(input.secret, aad(target.credentialId, version));
    const inserted: unknown[] = await this.guard(() =>
      this.dataSource.query(
        `INSERT INTO local_secret_versions
           (credential_id, version, request_token, key_fingerprint, nonce, ciphertext, auth_tag, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (credential_id, version) DO NOTHING
         RETURNING version`,
        [
          target.credentialId,
          version,
          input.requestToken,
          sealed.keyFingerprint,
          sealed.nonce,
          sealed.ciphertext,
          sealed.authTag,
          version === 1 ? 'current' : 'pending',
          this.clock.now(),
        ],
      ),
    );
    if (inserted.length === 0) {
      // The version exists: a retry of the same write succeeds, anything else conflicts.
      const existing = await this.findRow(target.credentialId, version);
      const stored = existing?.ciphertext ? this.decrypt(existing) : null;
      if (stored === null || !sameSecret(stored, input.secret)) {
        throw new SecretVersionConflictError(this.name, version);
      }
    }
    return { ref: this.refOf(target), versionId: String(version) };
  }

  async readVersion(target: SecretTarget, versionId: string): Promise<string> {
    const row = await this.findRow(target.credentialId, parseVersion(versionId));
    if (!row?.ciphertext) throw new SecretVersionNotFoundError(this.name, versionId);
    return this.decrypt(row);
  }

  /** One statement: the version becomes current and the one that was current becomes previous. */
  async promoteVersion(target: SecretTarget, versionId: string): Promise<void> {
    const version = parseVersion(versionId);
    const changed: Array<{ version: number }> = await this.guard(() =>
      this.dataSource.query(
        `WITH changed AS (
           UPDATE local_secret_versions
              SET state = CASE WHEN version = $2 THEN 'current' ELSE 'previous' END
            WHERE credential_id = $1 AND (version = $2 OR state = 'current')
              AND EXISTS (SELECT 1 FROM local_secret_versions
                           WHERE credential_id = $1 AND version = $2 AND ciphertext IS NOT NULL)
            RETURNING version)
         SELECT version FROM changed`,
        [target.credentialId, version],
      ),
    );
    if (!changed.some((row) => row.version === version)) throw new SecretVersionNotFoundError(this.name, versionId);
  }

  async destroyVersion(target: SecretTarget, versionId: string): Promise<void> {
    await this.guard(() =>
      this.dataSource
        .createQueryBuilder()
        .update(LocalSecretVersionEntity)
        .set({ nonce: null, ciphertext: null, authTag: null, destroyedAt: this.clock.now() })
        .where('credential_id = :id AND version = :version AND destroyed_at IS NULL', {
          id: target.credentialId,
          version: parseVersion(versionId),
        })
        .execute(),
    );
  }

  async deleteAll(target: SecretTarget): Promise<void> {
    await this.guard(() => this.dataSource.getRepository(LocalSecretVersionEntity).delete({ credentialId: target.credentialId }));
  }

  async checkHealth(): Promise<void> {
    await this.guard(() => this.dataSource.query('SELECT 1 FROM local_secret_versions LIMIT 1'));
  }

  private refOf(target: SecretTarget): string {
    return `local:${target.credentialId}`;
  }

  private findRow(credentialId: string, version: number): Promise<LocalSecretVersionEntity | null> {
    return this.guard(() =>
      this.dataSource.getRepository(LocalSecretVersionEntity).findOne({ where: { credentialId, version } }),
    );
  }

  private decrypt(row: LocalSecretVersionEntity): string {
    try {
      return this.box.open(
        { nonce: row.nonce!, ciphertext: row.ciphertext!, authTag: row.authTag!, keyFingerprint: row.keyFingerprint },
        aad(row.credentialId, row.version),
      );
    } catch (error) {
      if (error instanceof WrongKeyError) {
        throw new SecretStoreUnavailableError(this.name, 'the secret was sealed with a different LOCAL_STORE_KEY');
      }
      throw new SecretStoreUnavailableError(this.name, 'a stored secret failed its integrity check');
    }
  }

  /** Database failures become store unavailability (503); domain errors pass through. */
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof SecretVersionNotFoundError || error instanceof SecretVersionConflictError) throw error;
      if (error instanceof SecretStoreUnavailableError) throw error;
      throw new SecretStoreUnavailableError(this.name, (error as Error).message);
    }
  }
}

function aad(credentialId: string, version: number): string {
  return `local-secret:${credentialId}:${version}`;
}

function parseVersion(versionId: string): number {
  const version = Number(versionId);
  if (!Number.isInteger(version) || version < 1) throw new SecretVersionNotFoundError('local', versionId);
  return version;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
