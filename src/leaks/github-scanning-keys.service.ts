import { createPublicKey, KeyObject, verify } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { z } from 'zod';

import { AppConfig } from '../config/app-config';

const keysFileSchema = z.object({
  public_keys: z
    .array(z.object({ key_identifier: z.string().min(1), key: z.string().min(1), is_current: z.boolean().optional() }))
    .min(1, { message: 'must list at least one key' }),
});

interface LoadedKeys {
  mtimeMs: number;
  size: number;
  keys: Map<string, KeyObject>;
}

/**
 * GitHub's secret-scanning public keys, from GITHUB_SECRET_SCANNING_KEYS_FILE
 * (the JSON GitHub publishes at https://api.github.com/meta/public_keys/secret_scanning).
 * Read at startup (a missing or malformed file stops the start, naming the
 * variable); afterwards the file's modification time and size are checked on
 * each request and it is read again when they change, so a key GitHub adds
 * is picked up as soon as the file is replaced. A file that breaks later
 * keeps the last good keys, with a warning. Every listed key verifies, current
 * or not: GitHub signs with the key it names in the request.
 */
@Injectable()
export class GithubScanningKeys implements OnModuleInit {
  private readonly logger = new Logger(GithubScanningKeys.name);
  private loaded: LoadedKeys | null = null;

  constructor(private readonly config: AppConfig) {}

  get enabled(): boolean {
    return this.config.leaks.githubKeysFile !== null;
  }

  async onModuleInit(): Promise<void> {
    if (!this.enabled) return;
    try {
      this.loaded = await this.read();
    } catch (error) {
      throw new Error(`GITHUB_SECRET_SCANNING_KEYS_FILE ${(error as Error).message}`);
    }
  }

  /**
   * Whether `signature` (base64 of a DER ECDSA signature) over the raw body
   * bytes verifies with the P-256 key GitHub names by `keyIdentifier`.
   */
  async verify(body: Buffer, keyIdentifier: string, signature: string): Promise<'valid' | 'unknown_key' | 'bad_signature'> {
    const key = (await this.current()).get(keyIdentifier);
    if (!key) return 'unknown_key';
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return 'bad_signature';
    try {
      return verify('sha256', body, { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64')) ? 'valid' : 'bad_signature';
    } catch {
      return 'bad_signature';
    }
  }

  private async current(): Promise<Map<string, KeyObject>> {
    const file = this.config.leaks.githubKeysFile!;
    try {
      const info = await stat(file);
      if (!this.loaded || info.mtimeMs !== this.loaded.mtimeMs || info.size !== this.loaded.size) this.loaded = await this.read();
    } catch (error) {
      this.logger.warn(`GITHUB_SECRET_SCANNING_KEYS_FILE ${(error as Error).message}; keeping the keys read before`);
    }
    return this.loaded?.keys ?? new Map();
  }

  private async read(): Promise<LoadedKeys> {
    const file = this.config.leaks.githubKeysFile!;
    const info = await stat(file).catch(() => {
      throw new Error(`${file} cannot be read: point it at the JSON of GitHub's secret scanning public keys`);
    });
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      throw new Error(`${file} is not JSON: expected { "public_keys": [{ "key_identifier", "key", "is_current" }] }`);
    }
    const parsed = keysFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${file}: ${issue.path.join('.') || 'the file'} ${issue.message}`);
    }
    const keys = new Map<string, KeyObject>();
    for (const [i, entry] of parsed.data.public_keys.entries()) {
      let key: KeyObject;
      try {
        key = createPublicKey(entry.key);
      } catch {
        throw new Error(`${file}: public_keys.${i}.key is not a PEM public key`);
      }
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new Error(`${file}: public_keys.${i}.key is not an ECDSA P-256 key`);
      }
      keys.set(entry.key_identifier, key);
    }
    return { mtimeMs: info.mtimeMs, size: info.size, keys };
  }
}
