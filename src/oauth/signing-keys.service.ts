import { KeyObject } from 'node:crypto';

import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { DataSource, EntityManager } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { systemContext } from '../auth/actor';
import { Clock, DAY_MS } from '../common/clock/clock';
import { SecretBox } from '../common/crypto/secret-box';
import { advisoryXactLock } from '../common/db/advisory-lock';
import { AppConfig } from '../config/app-config';
import { OAuthSigningKeyEntity, SealedPrivateJwk } from './entities/oauth-signing-key.entity';
import { SigningKeysRepository } from './signing-keys.repository';

/** How long gateways may cache the JWKS (its Cache-Control max-age). */
export const JWKS_MAX_AGE_SECONDS = 300;
/**
 * A new key is in the JWKS at least this long before it signs: twice the JWKS max-age, so a gateway that
 * fetched the set just before the key appeared has refetched it (or will on the unknown `kid`) by then.
 */
export const PRE_PUBLICATION_MS = 2 * JWKS_MAX_AGE_SECONDS * 1000;
/** The scheduler makes the next key this long before the current one retires: ample room over the pre-publication minimum. */
export const NEXT_KEY_LEAD_MS = 60 * 60 * 1000;
/** A key stays published this long after it stops signing: the longest token lifetime allowed, plus clock skew. */
export const RETENTION_AFTER_RETIREMENT_MS = (3600 + 60) * 1000;
/** How long a process uses the keys it loaded before reading them again (a replica learns of a new key well within PRE_PUBLICATION_MS). */
const CACHE_MS = 30_000;
const LOCK_NAME = 'oauth-signing-keys';
/** How long start-up waits for the first key before it goes on without (a database that does not answer). */
const STARTUP_KEYS_TIMEOUT_MS = 5_000;

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  activatesAt: number;
  retiresAt: number;
  createdAt: number;
  expiresAt: number;
  sealed: SealedPrivateJwk;
  publicKey?: KeyObject;
  privateKey?: KeyObject;
}

/**
 * The service's access-token signing keys (ES256): generated here with jose, the private JWK sealed with
 * AES-256-GCM under LOCAL_STORE_KEY, published in the JWKS before they sign and until the last token they
 * signed has expired, rotated every OAUTH_SIGNING_KEY_DAYS by the scheduler (SigningKeySweepCron).
 * Key creation holds an advisory lock, and signing windows are unique by start, so replicas never make two.
 */
@Injectable()
export class SigningKeysService implements OnApplicationBootstrap {
  private readonly logger = new Logger(SigningKeysService.name);
  private readonly box: SecretBox;
  private keys: LoadedKey[] = [];
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: SigningKeysRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {
    this.box = new SecretBox(config.secretStores.local.key);
  }

  /**
   * A process that serves HTTP makes sure a key signs (and loads the keys) before it listens: Nest runs
   * this during init, before `listen`, so the first token request never waits for key creation and
   * nothing writes a key row behind a caller's back. A database that does not answer within
   * STARTUP_KEYS_TIMEOUT_MS does not stop the start: `signingKey()` makes the key on first use, and the
   * scheduler's sweep (src/oauth/signing-key-sweep.cron.ts) every minute.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.roles.includes('api')) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${STARTUP_KEYS_TIMEOUT_MS} ms`)), STARTUP_KEYS_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.ensureKeys().then(() => this.reload()), timeout]);
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'oauth signing keys not ready at start; made on first use');
    } finally {
      clearTimeout(timer);
    }
  }

  private get periodMs(): number {
    return this.config.oauth.signingKeyDays * DAY_MS;
  }

  /**
   * Makes sure a key signs now and, once the current one is within NEXT_KEY_LEAD_MS of retiring, that its
   * successor is published. With no key at all (a new installation) the first key signs at once: no
   * token exists that a gateway could need to verify. If the successor comes late (the scheduler was down),
   * the current key keeps signing until the successor has been published for PRE_PUBLICATION_MS.
   * Returns the keys it created.
   */
  async ensureKeys(): Promise<string[]> {
    const created = await this.dataSource.transaction(async (em) => {
      await advisoryXactLock(em, LOCK_NAME);
      const now = this.clock.now().getTime();
      const latest = await this.repository.latest(em);
      if (!latest) return [await this.createKey(em, now, now)];
      if (latest.retiresAt.getTime() - now > NEXT_KEY_LEAD_MS) return [];
      const activatesAt = Math.max(latest.retiresAt.getTime(), now + PRE_PUBLICATION_MS);
      if (activatesAt > latest.retiresAt.getTime()) {
        await this.repository.extendSigning(em, latest.kid, new Date(activatesAt), new Date(activatesAt + RETENTION_AFTER_RETIREMENT_MS));
        await this.audit.record(em, systemContext('oauth-signing-keys', `oauth-keys:${now}`), {
          action: 'oauth.signing_key_extended',
          targetType: 'oauth_signing_key',
          targetId: latest.kid,
          data: { retiresAt: new Date(activatesAt).toISOString(), previousRetiresAt: latest.retiresAt.toISOString() },
        });
      }
      return [await this.createKey(em, now, activatesAt)];
    });
    if (created.length) this.loadedAt = Number.NEGATIVE_INFINITY;
    return created;
  }

  private async createKey(em: EntityManager, now: number, activatesAt: number): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    const sealed = this.box.seal(JSON.stringify(await exportJWK(privateKey)), aadOf(kid));
    const retiresAt = activatesAt + this.periodMs;
    const key: OAuthSigningKeyEntity = {
      kid,
      algorithm: 'ES256',
      publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' },
      privateJwkSealed: {
        nonce: sealed.nonce.toString('base64'),
        ciphertext: sealed.ciphertext.toString('base64'),
        authTag: sealed.authTag.toString('base64'),
        keyFingerprint: sealed.keyFingerprint,
      },
      createdAt: new Date(now),
      activatesAt: new Date(activatesAt),
      retiresAt: new Date(retiresAt),
      expiresAt: new Date(retiresAt + RETENTION_AFTER_RETIREMENT_MS),
    };
    await this.repository.insert(em, key);
    await this.audit.record(em, systemContext('oauth-signing-keys', `oauth-keys:${now}`), {
      action: 'oauth.signing_key_created',
      targetType: 'oauth_signing_key',
      targetId: kid,
      data: {
        algorithm: 'ES256',
        activatesAt: key.activatesAt.toISOString(),
        retiresAt: key.retiresAt.toISOString(),
        expiresAt: key.expiresAt.toISOString(),
      },
    });
    this.logger.log({ kid, activatesAt: key.activatesAt.toISOString() }, 'oauth signing key created');
    return kid;
  }

  /** The key that signs now, its private half opened. Makes the first key if there is none (or none signs now). */
  async signingKey(): Promise<{ kid: string; privateKey: KeyObject }> {
    let key = await this.currentKey();
    if (!key) {
      await this.ensureKeys();
      await this.reload();
      key = this.activeAt(this.clock.now().getTime());
      if (!key) throw new Error('no OAuth signing key signs now, even after making one');
    }
    key.privateKey ??= (await importJWK(JSON.parse(this.open(key)) as JWK, 'ES256')) as KeyObject;
    return { kid: key.kid, privateKey: key.privateKey };
  }

  /** The published public key with this id, for verifying a token; null for an unknown or expired one. */
  async verificationKey(kid: string): Promise<KeyObject | null> {
    const loading = this.refreshIfStale();
    if (loading) await loading;
    const now = this.clock.now().getTime();
    let key = this.keys.find((k) => k.kid === kid);
    if (!key && now - this.loadedAt > 1000) {
      // A key another replica made since this one last read them.
      await this.reload();
      key = this.keys.find((k) => k.kid === kid);
    }
    if (!key || key.expiresAt <= now) return null;
    key.publicKey ??= (await importJWK(key.publicJwk, 'ES256')) as KeyObject;
    return key.publicKey;
  }

  /** The JWKS: every key published now (about to sign, signing, or retired with tokens still alive). */
  async publishedKeys(): Promise<JWK[]> {
    const loading = this.refreshIfStale();
    if (loading) await loading;
    const now = this.clock.now().getTime();
    return this.keys.filter((k) => k.createdAt <= now && now < k.expiresAt).map((k) => k.publicJwk);
  }

  private async currentKey(): Promise<LoadedKey | undefined> {
    const loading = this.refreshIfStale();
    if (loading) await loading;
    const now = this.clock.now().getTime();
    const key = this.activeAt(now);
    if (key) return key;
    await this.reload();
    return this.activeAt(now);
  }

  private activeAt(now: number): LoadedKey | undefined {
    return this.keys.find((k) => k.activatesAt <= now && now < k.retiresAt);
  }

  /**
   * Reads the keys again once they are CACHE_MS old. The first read (or the first after a key was made here, or
   * the clock went back) is awaited: returned. A later one runs in the background while the loaded keys keep
   * answering, so no token request waits for Postgres: which key signs and which are published is decided by
   * their times against now, and a key made by another replica is published PRE_PUBLICATION_MS (far more than
   * CACHE_MS) before it signs. An unknown `kid` is still read at once (verificationKey).
   */
  private refreshIfStale(): Promise<void> | undefined {
    const now = this.clock.now().getTime();
    if (now < this.loadedAt || this.loadedAt === Number.NEGATIVE_INFINITY) return this.reload();
    if (now - this.loadedAt < CACHE_MS) return undefined;
    this.reload().catch((error: unknown) => this.logger.warn({ err: (error as Error).message }, 'oauth signing keys not reloaded'));
    return undefined;
  }

  /** Reads the keys again; concurrent callers share one read. */
  private reload(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const at = this.clock.now();
        const rows = await this.repository.unexpired(at);
        const previous = new Map(this.keys.map((k) => [k.kid, k]));
        this.keys = rows.map((row) => ({
          kid: row.kid,
          publicJwk: row.publicJwk as unknown as JWK,
          activatesAt: row.activatesAt.getTime(),
          retiresAt: row.retiresAt.getTime(),
          createdAt: row.createdAt.getTime(),
          expiresAt: row.expiresAt.getTime(),
          sealed: row.privateJwkSealed,
          publicKey: previous.get(row.kid)?.publicKey,
          privateKey: previous.get(row.kid)?.privateKey,
        }));
        this.loadedAt = at.getTime();
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  private open(key: LoadedKey): string {
    return this.box.open(
      {
        nonce: Buffer.from(key.sealed.nonce, 'base64'),
        ciphertext: Buffer.from(key.sealed.ciphertext, 'base64'),
        authTag: Buffer.from(key.sealed.authTag, 'base64'),
        keyFingerprint: key.sealed.keyFingerprint,
      },
      aadOf(key.kid),
    );
  }
}

function aadOf(kid: string): string {
  return `oauth-signing-key:${kid}`;
}
