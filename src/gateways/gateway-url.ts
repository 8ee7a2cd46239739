import { AddressPolicy, hostProblem } from './gateway-address';

/** Private networks and loopback allowed: the defaults (GATEWAY_ALLOW_PRIVATE_NETWORKS, GATEWAY_ALLOW_LOOPBACK). */
export const INTERNAL_ALLOWED: AddressPolicy = { allowPrivateNetworks: true, allowLoopback: true };

/**
 * Whether a gateway URL may be used: http(s) only, no credentials in it, when
 * GATEWAY_URL_ALLOWLIST is set a host on that list (`*.example.com` covers
 * every subdomain), and never a host that is, or is named as, a metadata,
 * link-local or other forbidden address (gateway-address.ts). Returns the
 * problem, or null when the URL is fine. A name is only judged by what it
 * resolves to when a webhook is sent (HttpWebhookSender).
 */
export function gatewayUrlProblem(value: string, allowlist: string[] | null, policy: AddressPolicy = INTERNAL_ALLOWED): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.hash) return 'must not contain a fragment';
  if (allowlist && !hostAllowed(url.hostname, allowlist)) return `host ${url.hostname} is not in GATEWAY_URL_ALLOWLIST`;
  const problem = hostProblem(url.hostname, policy);
  if (problem) return `host ${url.hostname} is ${problem}`;
  return null;
}

export function hostAllowed(hostname: string, allowlist: string[]): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return allowlist.some((entry) =>
    entry.startsWith('*.') ? host.endsWith(entry.slice(1)) && host.length > entry.length - 1 : host === entry,
  );
}
