import ipaddr from 'ipaddr.js';

import type { FieldError } from '../common/errors/domain-error';

/**
 * Parses an allowlist of CIDR blocks (IPv4 and IPv6). Each entry must be a
 * network address with its prefix: `10.0.0.1/8` is refused rather than silently
 * widened, since the caller probably meant something narrower.
 */
export function checkIpAllowlist(entries: string[], field = 'ipAllowlist'): { errors: FieldError[]; normalized: string[] } {
  const errors: FieldError[] = [];
  const normalized: string[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const at = `${field}[${i}]`;
    const result = parseCidr(entry);
    if ('error' in result) {
      errors.push({ field: at, message: result.error });
      return;
    }
    if (seen.has(result.cidr)) {
      errors.push({ field: at, message: 'is a duplicate' });
      return;
    }
    seen.add(result.cidr);
    normalized.push(result.cidr);
  });
  return { errors, normalized };
}

function parseCidr(entry: string): { cidr: string } | { error: string } {
  const example = 'must be a CIDR block such as 10.0.0.0/8 or 2001:db8::/32';
  const slash = entry.indexOf('/');
  if (slash < 0) return { error: `${example} (add /32 or /128 for a single address)` };
  const address = entry.slice(0, slash);
  if (!ipaddr.isValid(address)) return { error: example };
  if (ipaddr.IPv4.isIPv4(address) && !ipaddr.IPv4.isValidFourPartDecimal(address)) return { error: example };
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(entry);
  } catch {
    return { error: example };
  }
  const [ip, prefix] = parsed;
  const network = ip.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(entry) : ipaddr.IPv6.networkAddressFromCIDR(entry);
  if (network.toString() !== ip.toString()) {
    return { error: `has host bits set; the network is ${network.toString()}/${prefix}` };
  }
  return { cidr: `${network.toString()}/${prefix}` };
}
