import { randomBytes } from 'node:crypto';

import { formatSecret, isWellFormedSecret } from './credential-secret';

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

  it('differ every time', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => formatSecret('sandbox', randomBytes(32))));
    expect(seen.size).toBe(1000);
  });

  it('refuse a random part of the wrong size', () => {
    expect(() => formatSecret('sandbox', randomBytes(16))).toThrow('32 random bytes');
  });
});
