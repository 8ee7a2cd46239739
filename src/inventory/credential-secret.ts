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

const SECRET_SHAPE = /^agk_(?:live|test)_[0-9A-Za-z]{49}$/;
const BODY_CHARS = 'agk_live_'.length + RANDOM_CHARS;

/**
 * Shape and checksum, without a string or buffer made: the checksum's 6
 * characters read as a base62 number equal the CRC32 of the body exactly
 * when they are its encoding (checksum() writes it zero-padded to 6 places,
 * and 62^6 < 2^53, so the number is exact). Called for every verification.
 */
export function isWellFormedSecret(candidate: string): boolean {
  if (!SECRET_SHAPE.test(candidate)) return false;
  let value = 0;
  for (let i = BODY_CHARS; i < candidate.length; i++) value = value * 62 + base62Digit(candidate.charCodeAt(i));
  return value === crc32(candidate.slice(0, BODY_CHARS)) >>> 0;
}

/** The value of a character of BASE62's alphabet (the caller has checked it is one). */
function base62Digit(code: number): number {
  if (code <= 0x39) return code - 0x30; // 0-9
  if (code <= 0x5a) return code - 0x41 + 10; // A-Z
  return code - 0x61 + 36; // a-z
}

export const SECRET_RANDOM_BYTES = RANDOM_BYTES;

function checksum(body: string): string {
  const value = crc32(body);
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return BASE62.encode(bytes).padStart(CHECKSUM_CHARS, '0');
}
