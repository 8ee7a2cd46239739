import ipaddr from 'ipaddr.js';

/**
 * Whether `address` (the request's peer address) is inside one of the allowlist's CIDR blocks; an empty
 * allowlist allows every address. IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) count as their IPv4 address.
 */
export function addressAllowed(address: string, allowlist: readonly string[]): boolean {
  if (allowlist.length === 0) return true;
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.process(address);
  } catch {
    return false;
  }
  return allowlist.some((cidr) => {
    try {
      const [network, prefix] = ipaddr.parseCIDR(cidr);
      return network.kind() === ip.kind() && ip.match([network, prefix] as never);
    } catch {
      return false;
    }
  });
}
