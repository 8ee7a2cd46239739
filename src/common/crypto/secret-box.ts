import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const ALGORITHM = 'aes-256-gcm';
const NONCE_BYTES = 12;

export interface SealedValue {
  nonce: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
  /** First 16 hex chars of SHA-256 of the key, so a value sealed under another key fails loudly. */
  keyFingerprint: string;
}

/**
 * AES-256-GCM with a random 96-bit nonce per value. The additional
 * authenticated data binds a ciphertext to what it belongs to (a credential
 * version, a gateway), so a sealed value copied onto another row fails to open.
 */
export class SecretBox {
  readonly keyFingerprint: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
    this.keyFingerprint = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  seal(plaintext: string, aad: string): SealedValue {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.key, nonce);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { nonce, ciphertext, authTag: cipher.getAuthTag(), keyFingerprint: this.keyFingerprint };
  }

  /** Throws WrongKeyError if sealed under another key; GCM throws if anything was altered. */
  open(sealed: SealedValue, aad: string): string {
    if (sealed.keyFingerprint !== this.keyFingerprint) throw new WrongKeyError();
    const decipher = createDecipheriv(ALGORITHM, this.key, sealed.nonce);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(sealed.authTag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
  }
}

export class WrongKeyError extends Error {
  constructor() {
    super('the value was sealed with a different key');
  }
}
