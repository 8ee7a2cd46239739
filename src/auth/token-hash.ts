import { createHash, timingSafeEqual } from 'node:crypto';
import type { PreparedStatement } from '../common/db/prepared-query';

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function sha256Hex(value: string): string {
  return sha256(value).toString('hex');
}

/** Constant-time comparison of two SHA-256 digests (always 32 bytes, so the lengths never differ). */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A live (not revoked) API token by the hex SHA-256 of the presented secret: every request's lookup. */
export const TOKEN_BY_SHA256: PreparedStatement = {
  name: 'auth_token_by_sha256',
  text: 'SELECT id, role, owner_id FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL',
};
