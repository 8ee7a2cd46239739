import { createHash } from 'node:crypto';

import { containsSecretShaped, redactSecretShaped, secretPrefixedPattern } from './secret-shape';

const key = 'agk_live_' + 'Ab1'.repeat(16) + 'XyZ9';
const token = 'agt_' + 'q-_Z'.repeat(11);
const signing = 'whsec_' + 'kq+/'.repeat(10) + 'AB==';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('secret-shaped values', () => {
  it('are our prefixes followed by at least 16 characters of the secret alphabet, anywhere in a string', () => {
    for (const s of [key, token, signing, `leaked:${key}.`, `x${token}`, 'agk_test_' + 'a'.repeat(16), 'agt_dev_' + 'b'.repeat(20)]) {
      expect([s, containsSecretShaped(s)]).toEqual([s, true]);
    }
    for (const s of [
      'agt_',
      'agt_short',
      'the agt_ and whsec_ prefixes',
      'agk_live_' + 'a'.repeat(15),
      'agc_' + 'f'.repeat(32),
      'agk_prod_' + 'a'.repeat(40),
    ]) {
      expect([s, containsSecretShaped(s)]).toEqual([s, false]);
    }
  });

  it('redact to prefix, ellipsis and last four characters, keeping the text around them and the hash of each', () => {
    const redacted = redactSecretShaped(`key ${key}, token ${token} and ${signing}!`)!;
    expect(redacted.text).toBe('key agk_live_…XyZ9, token agt_…q-_Z and whsec_…AB==!');
    expect(redacted.sha256s).toEqual([sha(key), sha(token), sha(signing)]);
    expect(containsSecretShaped(redacted.text)).toBe(false);
    expect(redactSecretShaped(redacted.text)).toBeNull();
    expect(redactSecretShaped('nothing to see')).toBeNull();
  });

  it('give the log scrubber a wider net: any run after a prefix', () => {
    const scrub = (s: string) => s.replace(secretPrefixedPattern(), (_r, a?: string, b?: string) => `${a ?? b}#`);
    expect(scrub('agt_zzz9 and agk_live_abc and whsec_a+b=')).toBe('agt_# and agk_live_# and whsec_#');
  });
});
