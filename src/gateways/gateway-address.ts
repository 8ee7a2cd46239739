import ipaddr from 'ipaddr.js';

/**
 * What kind of place an IP address is, as far as sending a webhook there goes.
 *
 * - `metadata`: a cloud provider's instance metadata or platform service. A
 *   request there can hand out the host's cloud credentials. Always refused.
 * - `link-local`, `unspecified`, `multicast`, `broadcast`: never a gateway.
 *   Link-local is where most metadata services live (169.254.169.254 on AWS,
 *   GCP, Azure, OpenStack, Oracle, DigitalOcean...), and connecting to 0.0.0.0
 *   or :: reaches this host itself. Always refused.
 * - `loopback`, `private` (RFC 1918, carrier-grade NAT, IPv6 unique local):
 *   internal; gateways often are. Allowed unless switched off.
 * - `public`: everything else.
 */
export type AddressKind = 'metadata' | 'link-local' | 'unspecified' | 'multicast' | 'broadcast' | 'loopback' | 'private' | 'public';

export interface AddressPolicy {
  allowPrivateNetworks: boolean;
  allowLoopback: boolean;
}

/**
 * Metadata services outside the link-local ranges (which are refused whole).
 * Each is a fixed address a provider documents; none is a plausible gateway.
 */
const METADATA_RANGES: Array<[string, string]> = [
  ['100.100.100.200/32', 'Alibaba Cloud instance metadata (inside the carrier-grade NAT range)'],
  ['192.0.0.192/32', 'Oracle Cloud legacy instance metadata'],
  ['168.63.129.16/32', 'Azure WireServer (VM agent configuration, including extension settings)'],
  ['fd00:ec2::/64', 'AWS IPv6 instance metadata (fd00:ec2::254), DNS, time and EKS pod identity'],
  ['fd20:ce::254/128', 'Google Cloud IPv6 metadata server'],
];

const METADATA = METADATA_RANGES.map(([cidr]) => ipaddr.parseCIDR(cidr));

/**
 * Host names that resolve to a metadata service on their platform. The send
 * time check catches them anyway (they resolve to metadata addresses); naming
 * them here refuses them at registration, where the admin sees why.
 */
const METADATA_HOST_NAMES = new Set([
  'metadata', // GCP's short name, through the search domain
  'metadata.google.internal',
  'metadata.goog',
  'instance-data', // AWS (EC2 Linux images resolve it)
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
]);

/** An IP address (no brackets) parsed, or null when it is not one. */
export function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = address.replace(/^\[(.*)\]$/, '$1');
  if (!ipaddr.isValid(bare)) return null;
  // Node connects to what the WHATWG URL parser and getaddrinfo produce: dotted quads and IPv6. ipaddr.js would
  // also read `0x7f.1` or `2130706433`; those never reach here from a URL (it normalises them) or from DNS.
  if (ipaddr.IPv4.isIPv4(bare) && !ipaddr.IPv4.isValidFourPartDecimal(bare)) return null;
  return ipaddr.parse(bare);
}

/**
 * The IPv4 address an IPv6 address carries, where a translator or the stack
 * may take it there: IPv4-mapped (`::ffff:a.b.c.d`, which a dual-stack socket
 * connects to over IPv4), IPv4-compatible (`::a.b.c.d`), SIIT (`::ffff:0:a.b.c.d`),
 * NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4 (`2002:AABB:CCDD::/48`) and
 * Teredo (the client address, inverted). Null for every other address.
 */
export function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = address.parts;
  const low32 = () => new ipaddr.IPv4([p[6] >> 8, p[6] & 0xff, p[7] >> 8, p[7] & 0xff]);
  const range = address.range();
  if (range === 'ipv4Mapped' || range === 'rfc6145' || range === 'rfc6052') return low32();
  if (p[0] === 0x64 && p[1] === 0xff9b && p[2] === 0x1) return low32(); // RFC 8215 local-use NAT64
  if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7] > 1)) return low32(); // IPv4-compatible, not :: or ::1
  if (range === '6to4') return new ipaddr.IPv4([p[1] >> 8, p[1] & 0xff, p[2] >> 8, p[2] & 0xff]);
  if (range === 'teredo') return new ipaddr.IPv4([(p[6] >> 8) ^ 0xff, (p[6] & 0xff) ^ 0xff, (p[7] >> 8) ^ 0xff, (p[7] & 0xff) ^ 0xff]);
  return null;
}

/** The kind of an IP address; one that embeds an IPv4 address is what that address is. */
export function classifyAddress(address: ipaddr.IPv4 | ipaddr.IPv6): AddressKind {
  if (address.kind() === 'ipv6') {
    const inner = embeddedIPv4(address as ipaddr.IPv6);
    if (inner) return classifyAddress(inner);
  }
  if (METADATA.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits))) return 'metadata';
  switch (address.range()) {
    case 'linkLocal':
      return 'link-local';
    case 'unspecified':
      return 'unspecified';
    case 'multicast':
      return 'multicast';
    case 'broadcast':
      return 'broadcast';
    case 'loopback':
      return 'loopback';
    case 'private':
    case 'carrierGradeNat':
    case 'uniqueLocal':
      return 'private';
    default:
      return 'public';
  }
}

const DESCRIPTION: Record<AddressKind, string> = {
  metadata: 'a cloud metadata address',
  'link-local': 'a link-local address (where cloud metadata services live)',
  unspecified: 'an unspecified address',
  multicast: 'a multicast address',
  broadcast: 'a broadcast address',
  loopback: 'a loopback address, and GATEWAY_ALLOW_LOOPBACK is false',
  private: 'a private network address, and GATEWAY_ALLOW_PRIVATE_NETWORKS is false',
  public: 'a public address',
};

/** Why webhooks may not go to this address, or null when they may. */
export function addressProblem(address: ipaddr.IPv4 | ipaddr.IPv6, policy: AddressPolicy): string | null {
  const kind = classifyAddress(address);
  if (kind === 'public') return null;
  if (kind === 'private' && policy.allowPrivateNetworks) return null;
  if (kind === 'loopback' && policy.allowLoopback) return null;
  return DESCRIPTION[kind];
}

/**
 * Why webhooks may not go to this URL host (as `URL.hostname` gives it), or
 * null. IP literals are judged as addresses; names only when they are known to
 * mean a metadata service or this host (`localhost`). Any other name is judged
 * by what it resolves to, when sending.
 */
export function hostProblem(hostname: string, policy: AddressPolicy): string | null {
  const address = parseAddress(hostname);
  if (address) return addressProblem(address, policy);
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (METADATA_HOST_NAMES.has(name)) return 'a cloud metadata host name';
  if ((name === 'localhost' || name.endsWith('.localhost')) && !policy.allowLoopback) {
    return 'a loopback host name, and GATEWAY_ALLOW_LOOPBACK is false';
  }
  return null;
}
