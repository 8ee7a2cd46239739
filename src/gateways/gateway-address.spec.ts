import { AddressPolicy, addressProblem, classifyAddress, embeddedIPv4, hostProblem, parseAddress } from './gateway-address';

const kind = (address: string) => classifyAddress(parseAddress(address)!);
const OPEN: AddressPolicy = { allowPrivateNetworks: true, allowLoopback: true };
const CLOSED: AddressPolicy = { allowPrivateNetworks: false, allowLoopback: false };

describe('gateway address classification', () => {
  it('finds link-local and cloud metadata addresses, IPv4 and IPv6', () => {
    for (const a of ['169.254.169.254', '169.254.170.2', '169.254.0.1', '169.254.255.255', 'fe80::1', 'febf:ffff::1', 'fe80::a9fe:a9fe']) {
      expect([a, kind(a)]).toEqual([a, 'link-local']);
    }
    for (const a of ['100.100.100.200', '192.0.0.192', '168.63.129.16', 'fd00:ec2::254', 'fd00:ec2::23', 'fd20:ce::254']) {
      expect([a, kind(a)]).toEqual([a, 'metadata']);
    }
  });

  it('sees through IPv6 forms that carry an IPv4 address', () => {
    const metadataForms = [
      '::ffff:169.254.169.254', // IPv4-mapped
      '::ffff:a9fe:a9fe', // the same, in hex
      '0:0:0:0:0:ffff:a9fe:a9fe',
      '::169.254.169.254', // IPv4-compatible
      '::ffff:0:a9fe:a9fe', // SIIT
      '64:ff9b::169.254.169.254', // NAT64 well-known prefix
      '64:ff9b:1::a9fe:a9fe', // NAT64 local-use prefix
      '2002:a9fe:a9fe::1', // 6to4
      '2001:0:4136:e378:8000:63bf:5601:5601', // Teredo: client 169.254.169.254 inverted
    ];
    for (const a of metadataForms) expect([a, kind(a)]).toEqual([a, 'link-local']);
    expect(kind('::ffff:100.100.100.200')).toBe('metadata');
    expect(kind('64:ff9b::c000:c0')).toBe('metadata'); // 192.0.0.192
    expect(kind('::ffff:127.0.0.1')).toBe('loopback');
    expect(kind('::ffff:10.1.2.3')).toBe('private');
    expect(kind('::ffff:0.0.0.0')).toBe('unspecified');
    expect(kind('::ffff:8.8.8.8')).toBe('public');
    expect(embeddedIPv4(parseAddress('2001:db8::1') as never)).toBeNull();
  });

  it('finds unspecified, multicast and broadcast addresses', () => {
    expect(kind('0.0.0.0')).toBe('unspecified');
    expect(kind('0.1.2.3')).toBe('unspecified'); // "this network": connecting there reaches this host on Linux
    expect(kind('::')).toBe('unspecified');
    expect(kind('224.0.0.1')).toBe('multicast');
    expect(kind('239.255.255.250')).toBe('multicast');
    expect(kind('ff02::1')).toBe('multicast');
    expect(kind('255.255.255.255')).toBe('broadcast');
  });

  it('tells loopback and private networks from public addresses', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1']) expect([a, kind(a)]).toEqual([a, 'loopback']);
    for (const a of ['10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', 'fc00::1', 'fd12:3456::1', 'fd00:ec3::254']) {
      expect([a, kind(a)]).toEqual([a, 'private']);
    }
    for (const a of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '169.253.255.255', '2606:4700::1111']) {
      expect([a, kind(a)]).toEqual([a, 'public']);
    }
  });

  it('refuses metadata and link-local whatever the policy; private and loopback only when switched off', () => {
    for (const a of ['169.254.169.254', '::ffff:169.254.169.254', 'fd00:ec2::254', '0.0.0.0', '224.0.0.1', '255.255.255.255']) {
      expect([a, addressProblem(parseAddress(a)!, OPEN)]).toEqual([a, expect.any(String)]);
    }
    expect(addressProblem(parseAddress('10.0.0.1')!, OPEN)).toBeNull();
    expect(addressProblem(parseAddress('127.0.0.1')!, OPEN)).toBeNull();
    expect(addressProblem(parseAddress('10.0.0.1')!, CLOSED)).toMatch(
      /private network address, and GATEWAY_ALLOW_PRIVATE_NETWORKS is false/,
    );
    expect(addressProblem(parseAddress('::ffff:192.168.0.1')!, CLOSED)).toMatch(/GATEWAY_ALLOW_PRIVATE_NETWORKS/);
    expect(addressProblem(parseAddress('127.0.0.1')!, CLOSED)).toMatch(/loopback address, and GATEWAY_ALLOW_LOOPBACK is false/);
    expect(addressProblem(parseAddress('127.0.0.1')!, { allowPrivateNetworks: false, allowLoopback: true })).toBeNull();
    expect(addressProblem(parseAddress('8.8.8.8')!, CLOSED)).toBeNull();
  });

  it('judges URL hosts: IP literals as addresses, metadata names by name, other names not at all', () => {
    expect(hostProblem('169.254.169.254', OPEN)).toMatch(/link-local/);
    expect(hostProblem('[::ffff:a9fe:a9fe]', OPEN)).toMatch(/link-local/);
    expect(hostProblem('metadata.google.internal', OPEN)).toMatch(/metadata host name/);
    expect(hostProblem('Metadata.Google.Internal.', OPEN)).toMatch(/metadata host name/);
    expect(hostProblem('instance-data', OPEN)).toMatch(/metadata host name/);
    expect(hostProblem('localhost', OPEN)).toBeNull();
    expect(hostProblem('localhost', CLOSED)).toMatch(/loopback host name/);
    expect(hostProblem('gw.localhost', CLOSED)).toMatch(/loopback host name/);
    expect(hostProblem('gw.example.com', CLOSED)).toBeNull();
  });

  it('reads only addresses as URLs and resolvers write them', () => {
    expect(parseAddress('169.254.169.254')).not.toBeNull();
    expect(parseAddress('[fe80::1]')).not.toBeNull();
    expect(parseAddress('0xa9fea9fe')).toBeNull();
    expect(parseAddress('gw.example.com')).toBeNull();
  });
});
