import { timingSafeEqual } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { Clock } from '../common/clock/clock';
import { SecretBox, WrongKeyError } from '../common/crypto/secret-box';
import { GroupCommit } from '../common/db/group-commit';
import { AppConfig } from '../config/app-config';
import { LocalSecretVersionsRepository, NewVersion, SealedRow, VersionKey } from './local-secret-versions.repository';
import {
  SecretStore,
  SecretStoreUnavailableError,
  SecretTarget,
  SecretVersionConflictError,
  SecretVersionNotFoundError,
  StoredSecretVersion,
  WriteSecretVersion,
} from './secret-store';

/** Writes, reads or promotions one statement carries at most. */
const BATCH = 64;

/**
 * The embedded store: AES-256-GCM under LOCAL_STORE_KEY (SecretBox), one row
 * per version in its own table. The additional authenticated data binds each
 * ciphertext to its credential and version, so a row copied onto another fails
 * to decrypt.
 *
 * Writes, reads and promotions made together (the concurrent rotation jobs
 * of a worker, concurrent issuances) share one statement each (group commit):
 * each still gets its own answer, and a lone call waits for nothing.
 */
@Injectable()
export class LocalSecretStore extends SecretStore {
  readonly name = 'local' as const;
  private readonly box: SecretBox;
  private readonly inserts = new GroupCommit<NewVersion, boolean>((items) => this.insertMany(items), BATCH);
  private readonly reads = new GroupCommit<VersionKey, SealedRow | null>((keys) => this.findMany(keys), BATCH);
  private readonly promotions = new GroupCommit<VersionKey, boolean>((keys) => this.promoteMany(keys), BATCH);
  private readonly deletions = new GroupCommit<string, void>((credentialIds) => this.deleteMany(credentialIds), BATCH);

  private readonly versions: LocalSecretVersionsRepository;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly clock: Clock,
    config: AppConfig,
  ) {
    super();
    this.box = new SecretBox(config.secretStores.local.key);
    // The adapter's own table: its repository is part of it, not a provider other code could reach.
    this.versions = new LocalSecretVersionsRepository(dataSource);
  }

  async writeVersion(input: WriteSecretVersion): Promise<StoredSecretVersion> {
    const { target, version } = input;
    const inserted = await this.guard(() =>
      this.inserts.submit({
        credentialId: target.credentialId,
        version,
        requestToken: input.requestToken,
        sealed: this.box.seal(input.secret, aad(target.credentialId, version)),
        state: version === 1 ? 'current' : 'pending',
        createdAt: this.clock.now(),
      }),
    );
    if (!inserted) {
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

  /** The version becomes current and the one that was current becomes previous, in one statement. */
  async promoteVersion(target: SecretTarget, versionId: string): Promise<void> {
    const version = parseVersion(versionId);
    const promoted = await this.guard(() => this.promotions.submit({ credentialId: target.credentialId, version }));
    if (!promoted) throw new SecretVersionNotFoundError(this.name, versionId);
  }

  async destroyVersion(target: SecretTarget, versionId: string): Promise<void> {
    await this.guard(() =>
      this.versions.destroy({ credentialId: target.credentialId, version: parseVersion(versionId) }, this.clock.now()),
    );
  }

  /** Deletions are grouped into one DELETE per BATCH: a destruction batch hands them all over at once. */
  override readonly deletionsInFlight = 1000;

  async deleteAll(target: SecretTarget): Promise<void> {
    await this.guard(() => this.deletions.submit(target.credentialId));
  }

  async checkHealth(): Promise<void> {
    await this.guard(() => this.versions.ping());
  }

  private refOf(target: SecretTarget): string {
    return `local:${target.credentialId}`;
  }

  private findRow(credentialId: string, version: number): Promise<SealedRow | null> {
    return this.guard(() => this.reads.submit({ credentialId, version }));
  }

  /**
   * One INSERT for the batch; answers, for each write, whether it inserted its
   * version. A version written twice in one batch is inserted by its first
   * write; the others find it there, as a retry would.
   */
  private async insertMany(items: NewVersion[]): Promise<boolean[]> {
    const first = firstOfEach(items, keyOf);
    const rows = [...first.values()].map((i) => items[i]);
    const inserted = await this.versions.insert(rows);
    const done = new Set(inserted.map(keyOf));
    return items.map((item, i) => first.get(keyOf(item)) === i && done.has(keyOf(item)));
  }

  /** One SELECT for the batch, by primary key. */
  private async findMany(keys: VersionKey[]): Promise<Array<SealedRow | null>> {
    const rows = await this.versions.findMany(keys);
    const found = new Map(rows.map((row) => [keyOf({ credentialId: row.credential_id, version: row.version }), row]));
    return keys.map((k) => found.get(keyOf(k)) ?? null);
  }

  /**
   * One UPDATE for the batch: each asked-for version that still holds its
   * ciphertext becomes current, and its credential's current one previous.
   * A credential promoted twice in one batch has its later promotions run
   * after, one by one, in the order they were asked for.
   */
  private async promoteMany(keys: VersionKey[]): Promise<boolean[]> {
    const first = firstOfEach(keys, (k) => k.credentialId);
    const batch = [...first.values()].map((i) => keys[i]);
    const changed = await this.versions.promote(batch);
    const promoted = new Set(changed.map(keyOf));
    const results: boolean[] = [];
    for (const [i, key] of keys.entries()) {
      results.push(first.get(key.credentialId) === i ? promoted.has(keyOf(key)) : (await this.promoteMany([key]))[0]);
    }
    return results;
  }

  /**
   * One DELETE (and one commit) for every credential whose secrets go in this
   * batch: a burst of revocations destroys its secrets together instead of
   * committing once per credential.
   */
  private async deleteMany(credentialIds: string[]): Promise<void[]> {
    await this.versions.deleteOf([...new Set(credentialIds)]);
    return credentialIds.map(() => undefined);
  }

  private decrypt(row: SealedRow): string {
    try {
      return this.box.open(
        { nonce: row.nonce!, ciphertext: row.ciphertext!, authTag: row.auth_tag!, keyFingerprint: row.key_fingerprint },
        aad(row.credential_id, row.version),
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

function keyOf(key: VersionKey): string {
  return `${key.credentialId.toLowerCase()}:${key.version}`;
}

/** For each distinct key, the index of the first item that has it. */
function firstOfEach<T>(items: T[], key: (item: T) => string): Map<string, number> {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    if (!first.has(key(item))) first.set(key(item), i);
  });
  return first;
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
