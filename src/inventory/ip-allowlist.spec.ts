import { checkIpAllowlist } from './ip-allowlist';

describe('checkIpAllowlist', () => {
  it('accepts IPv4 and IPv6 networks and normalises them', () => {
    const result = checkIpAllowlist(['10.0.0.0/8', '192.168.1.7/32', '2001:DB8::/32', '::1/128']);
    expect(result.errors).toEqual([]);
    expect(result.normalized).toEqual(['10.0.0.0/8', '192.168.1.7/32', '2001:db8::/32', '::1/128']);
  });

  it.each([
    ['10.0.0.1', 'add /32'],
    ['10.0.0.0/33', 'must be a CIDR block'],
    ['300.0.0.0/8', 'must be a CIDR block'],
    ['10.1/16', 'must be a CIDR block'],
    ['010.0.0.0/8', 'must be a CIDR block'],
    ['2001:db8::/129', 'must be a CIDR block'],
    ['not-an-ip/8', 'must be a CIDR block'],
    ['10.0.0.1/8', 'host bits set; the network is 10.0.0.0/8'],
    ['2001:db8::1/32', 'host bits set; the network is 2001:db8::/32'],
  ])('refuses %s', (entry, message) => {
    const result = checkIpAllowlist(['10.0.0.0/8', entry]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0].field).toBe('ipAllowlist[1]');
    expect(result.errors[0].message).toContain(message);
  });

  it('refuses the same network written twice', () => {
    const result = checkIpAllowlist(['2001:db8::/32', '2001:0db8:0::/32']);
    expect(result.errors).toEqual([{ field: 'ipAllowlist[1]', message: 'is a duplicate' }]);
  });
});
