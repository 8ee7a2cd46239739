import { networkOf } from './network-of';

describe('networkOf', () => {
  it('gives the /24 of an IPv4 address and the /48 of an IPv6 one', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('::ffff:203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48');
    expect(networkOf('2001:db8:abce::1')).not.toBe(networkOf('2001:db8:abcd::1'));
    expect(networkOf('not an address')).toBeNull();
  });
});
