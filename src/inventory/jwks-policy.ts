import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';

import type { FieldError } from '../common/errors/domain-error';
import type { PublicJwkSet } from './entities/credential.entity';

/**
 * What an `oauth_client` may register as its `private_key_jwt` keys (RFC 7523):
 * public signing keys of the algorithms the token endpoint verifies, each of
 * which must import. A private key (any private member), a symmetric key
 * (`kty: oct`), another algorithm or curve, or an RSA key under 2048 bits is
 * refused, naming the member at fault (`jwks.keys[0].d`).
 */

/** The assertion algorithms the token endpoint accepts; also its metadata's `token_endpoint_auth_signing_alg_values_supported`. */
export const CLIENT_ASSERTION_ALGORITHMS = ['ES256', 'RS256', 'PS256', 'EdDSA'] as const;

/** Keys one set may hold: enough for a rollover with room to spare. */
export const MAX_CLIENT_KEYS = 10;

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const KEPT_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e', 'alg', 'kid', 'use', 'key_ops'] as const;
const MIN_RSA_BITS = 2048;

/** The algorithm a key's type and curve imply, where only one fits. */
function impliedAlgorithm(key: Record<string, unknown>): string | undefined {
  if (key.kty === 'EC' && key.crv === 'P-256') return 'ES256';
  if (key.kty === 'OKP' && key.crv === 'Ed25519') return 'EdDSA';
  return undefined;
}

export interface CheckedJwks {
  errors: FieldError[];
  /** The set as stored: public members only, `alg` filled in where the key type implies it. */
  normalized: PublicJwkSet;
  /** What the audit log records of each key: never more than its id, type, algorithm and RFC 7638 thumbprint. */
  summary: Array<{ kid: string | null; kty: string; alg: string | null; thumbprint: string }>;
}

export async function checkJwks(value: unknown, field = 'jwks'): Promise<CheckedJwks> {
  const errors: FieldError[] = [];
  const normalized: PublicJwkSet = { keys: [] };
  const summary: CheckedJwks['summary'] = [];
  const done = () => ({ errors, normalized, summary });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push({ field, message: 'must be a JWK set: { "keys": [ ... ] }' });
    return done();
  }
  const extra = Object.keys(value).filter((k) => k !== 'keys');
  if (extra.length) errors.push({ field: `${field}.${extra[0]}`, message: 'is not a member of a JWK set (only keys)' });
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_CLIENT_KEYS) {
    errors.push({ field: `${field}.keys`, message: `must be an array of 1 to ${MAX_CLIENT_KEYS} public keys` });
    return done();
  }
  const kids = new Set<string>();
  for (const [i, raw] of keys.entries()) {
    const at = `${field}.keys[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      errors.push({ field: at, message: 'must be a JWK object' });
      continue;
    }
    const key = raw as Record<string, unknown>;
    const problem = keyProblem(key);
    if (problem) {
      errors.push({ field: `${at}${problem.member ? `.${problem.member}` : ''}`, message: problem.message });
      continue;
    }
    if (typeof key.kid === 'string') {
      if (kids.has(key.kid)) {
        errors.push({ field: `${at}.kid`, message: 'is a duplicate' });
        continue;
      }
      kids.add(key.kid);
    }
    const kept: Record<string, unknown> = {};
    for (const member of KEPT_MEMBERS) if (key[member] !== undefined) kept[member] = key[member];
    kept.alg ??= impliedAlgorithm(key);
    try {
      // RSA without `alg` may serve RS256 or PS256: importing it as RS256 checks the key itself.
      await importJWK(kept as unknown as JWK, (kept.alg as string | undefined) ?? 'RS256');
    } catch {
      errors.push({ field: at, message: 'is not a valid public key (its members do not make a key)' });
      continue;
    }
    normalized.keys.push(kept);
    summary.push({
      kid: (kept.kid as string | undefined) ?? null,
      kty: kept.kty as string,
      alg: (kept.alg as string | undefined) ?? null,
      thumbprint: await calculateJwkThumbprint(kept as unknown as JWK, 'sha256'),
    });
  }
  return done();
}

/** The first thing wrong with one key, naming the member at fault (none: the key as a whole). */
function keyProblem(key: Record<string, unknown>): { member?: string; message: string } | null {
  const privateMember = PRIVATE_MEMBERS.find((m) => key[m] !== undefined);
  if (key.kty === 'oct') return { member: 'kty', message: 'is a symmetric key (oct); register public keys only' };
  if (privateMember) return { member: privateMember, message: 'is a private key member; register public keys only' };
  if (key.kty !== 'EC' && key.kty !== 'RSA' && key.kty !== 'OKP') return { member: 'kty', message: 'must be EC, RSA or OKP' };
  if (key.kid !== undefined && (typeof key.kid !== 'string' || key.kid.length === 0 || key.kid.length > 200)) {
    return { member: 'kid', message: 'must be a string of 1 to 200 characters' };
  }
  if (key.use !== undefined && key.use !== 'sig') return { member: 'use', message: 'must be sig' };
  if (key.key_ops !== undefined && !(Array.isArray(key.key_ops) && key.key_ops.includes('verify'))) {
    return { member: 'key_ops', message: 'must include verify' };
  }
  if (key.kty === 'EC' && key.crv !== 'P-256') return { member: 'crv', message: 'must be P-256 (ES256)' };
  if (key.kty === 'OKP' && key.crv !== 'Ed25519') return { member: 'crv', message: 'must be Ed25519 (EdDSA)' };
  if (key.alg !== undefined) {
    if (!(CLIENT_ASSERTION_ALGORITHMS as readonly unknown[]).includes(key.alg)) {
      return { member: 'alg', message: `must be one of ${CLIENT_ASSERTION_ALGORITHMS.join(', ')}` };
    }
    const fits = key.kty === 'RSA' ? key.alg === 'RS256' || key.alg === 'PS256' : key.alg === impliedAlgorithm(key);
    if (!fits) return { member: 'alg', message: `does not fit a ${String(key.kty)} key` };
  }
  if (key.kty === 'RSA') {
    if (typeof key.n !== 'string' || typeof key.e !== 'string') return { message: 'must have n and e' };
    if (Buffer.from(key.n, 'base64url').length * 8 < MIN_RSA_BITS) return { member: 'n', message: `must be at least ${MIN_RSA_BITS} bits` };
  }
  return null;
}
