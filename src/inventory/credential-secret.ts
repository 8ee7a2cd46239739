import { crc32 } from 'node:zlib';

import basex from 'base-x';

import type { Environment } from './entities/credential.entity';

const BASE62 = basex('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
const RANDOM_BYTES = 32;
const RANDOM_CHARS = 43; // 62^43 > 2^256
const CHECKSUM_CHARS = 6; // 62^6 > 2^32

/**
 * Credential secrets look like `agk_live_<43 base62 chars><6 base62 chars>`:
 * a prefix secret scanners and responders recognise (`agk_test_` in sandbox),
 * 32 random bytes, and a CRC32 of everything before it, so a mistyped or
 * truncated key is caught offline without a lookup.
 */
export function secretPrefix(environment: Environment): string {
  return environment === 'production' ? 'agk_live_' : 'agk_test_';
}

export function formatSecret(environment: Environment, random: Buffer): string {
  if (random.length !== RANDOM_BYTES) throw new Error(`a secret needs ${RANDOM_BYTES} random bytes`);
  const body = secretPrefix(environment) + BASE62.encode(random).padStart(RANDOM_CHARS, '0');
  return body + checksum(body);
}

export function isWellFormedSecret(candidate: string): boolean {
  const match = /^(agk_(?:live|test)_)([0-9A-Za-z]{43})([0-9A-Za-z]{6})$/.exec(candidate);
  if (!match) return false;
  return checksum(match[1] + match[2]) === match[3];
}

export const SECRET_RANDOM_BYTES = RANDOM_BYTES;

function checksum(body: string): string {
  const value = crc32(body);
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return BASE62.encode(bytes).padStart(CHECKSUM_CHARS, '0');
}
