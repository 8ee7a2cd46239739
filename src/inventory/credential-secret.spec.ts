import { randomBytes, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';

import basex from 'base-x';

import { formatSecret, isWellFormedSecret } from './credential-secret';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('credential secrets', () => {
  it('carry an environment prefix, 32 random bytes and a checksum', () => {
    const live = formatSecret('production', randomBytes(32));
    const test = formatSecret('sandbox', randomBytes(32));
    expect(live).toMatch(/^agk_live_[0-9A-Za-z]{49}$/);
    expect(test).toMatch(/^agk_test_[0-9A-Za-z]{49}$/);
    expect(isWellFormedSecret(live)).toBe(true);
    expect(isWellFormedSecret(test)).toBe(true);
  });

  it('keep leading zero bytes (fixed length)', () => {
    const secret = formatSecret('production', Buffer.alloc(32));
    expect(secret).toHaveLength('agk_live_'.length + 49);
    expect(isWellFormedSecret(secret)).toBe(true);
  });

  it('detect a typo offline through the checksum', () => {
    const secret = formatSecret('production', randomBytes(32));
    const position = 20;
    const typo = secret.slice(0, position) + (secret[position] === 'a' ? 'b' : 'a') + secret.slice(position + 1);
    expect(isWellFormedSecret(typo)).toBe(false);
    expect(isWellFormedSecret(secret.slice(0, -1))).toBe(false);
    expect(isWellFormedSecret(secret.replace('agk_live_', 'agk_test_'))).toBe(false);
  });

  it('check the checksum exactly as its text (a body whose CRC32 has leading zero bytes included)', () => {
    // The check reads the checksum as a number; the reference compares the encoded text, as formatSecret writes it.
    const reference = (candidate: string) => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(crc32(candidate.slice(0, 52)) >>> 0);
      return basex(ALPHABET).encode(bytes).padStart(6, '0') === candidate.slice(52);
    };
    let small = 0;
    for (let i = 0; i < 3_000; i++) {
      const secret = formatSecret(i % 2 ? 'production' : 'sandbox', randomBytes(32));
      const checksum = secret.slice(52);
      if (checksum.startsWith('00')) small++;
      expect(isWellFormedSecret(secret)).toBe(true);
      const at = 52 + randomInt(6);
      const other = ALPHABET[(ALPHABET.indexOf(secret[at]!) + 1 + randomInt(61)) % 62]!;
      const mutated = secret.slice(0, at) + other + secret.slice(at + 1);
      expect(isWellFormedSecret(mutated)).toBe(reference(mutated));
      expect(isWellFormedSecret(mutated)).toBe(false);
      const garbage = secret.slice(0, 52) + Array.from({ length: 6 }, () => ALPHABET[randomInt(62)]).join('');
      expect(isWellFormedSecret(garbage)).toBe(reference(garbage));
    }
    expect(small).toBeGreaterThan(0);
    expect(isWellFormedSecret(`agk_live_${'0'.repeat(43)}zzzzzz`)).toBe(false);
  });

  it('differ every time', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => formatSecret('sandbox', randomBytes(32))));
    expect(seen.size).toBe(1000);
  });

  it('refuse a random part of the wrong size', () => {
    expect(() => formatSecret('sandbox', randomBytes(16))).toThrow('32 random bytes');
  });
});
