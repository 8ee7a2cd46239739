import ipaddr from 'ipaddr.js';

/**
 * The network an address belongs to for `new_network`: its /24 (IPv4) or /48
 * (IPv6), written as CIDR; an IPv4-mapped IPv6 address counts as its IPv4
 * address. Null for what is not an address.
 */
export function networkOf(ip: string): string | null {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(ip);
  } catch {
    return null;
  }
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) address = (address as ipaddr.IPv6).toIPv4Address();
  if (address.kind() === 'ipv4') return `${ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/24`).toString()}/24`;
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/48`).toString()}/48`;
}
