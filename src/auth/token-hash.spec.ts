import { digestsEqual, sha256, sha256Hex } from './token-hash';

describe('token hashing', () => {
  it('hex is the digest, and digests compare equal only for the same token', () => {
    expect(sha256Hex('agt_x')).toBe(sha256('agt_x').toString('hex'));
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(digestsEqual(sha256('agt_x'), sha256('agt_x'))).toBe(true);
    expect(digestsEqual(sha256('agt_x'), sha256('agt_y'))).toBe(false);
    expect(digestsEqual(sha256('agt_x'), sha256('agt_x').subarray(0, 16))).toBe(false);
  });
});
