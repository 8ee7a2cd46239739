import { createHmac } from 'node:crypto';

/** Standard Webhooks secrets: `whsec_` + base64 of the key bytes. */
export const SIGNING_SECRET_PREFIX = 'whsec_';
export const SIGNING_SECRET_BYTES = 32;

export function formatSigningSecret(key: Buffer): string {
  return SIGNING_SECRET_PREFIX + key.toString('base64');
}

export function signingKeyOf(secret: string): Buffer {
  if (!secret.startsWith(SIGNING_SECRET_PREFIX)) throw new Error('a signing secret starts with whsec_');
  return Buffer.from(secret.slice(SIGNING_SECRET_PREFIX.length), 'base64');
}

/**
 * The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * once per key, space-separated (during a rotation both keys sign, and a
 * receiver accepts any match).
 */
export function signatureHeader(id: string, timestampSeconds: number, body: string, keys: Buffer[]): string {
  const signed = `${id}.${timestampSeconds}.${body}`;
  return keys.map((key) => `v1,${createHmac('sha256', key).update(signed, 'utf8').digest('base64')}`).join(' ');
}

/** The three Standard Webhooks headers for one attempt. */
export function webhookHeaders(id: string, at: Date, body: string, keys: Buffer[]): Record<string, string> {
  const timestamp = Math.floor(at.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(id, timestamp, body, keys),
  };
}
