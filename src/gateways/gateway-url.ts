/**
 * Whether a gateway URL may be used: http(s) only, no credentials in it, and,
 * when GATEWAY_URL_ALLOWLIST is set, a host on that list (`*.example.com`
 * covers every subdomain). Returns the problem, or null when the URL is fine.
 */
export function gatewayUrlProblem(value: string, allowlist: string[] | null): string | null {
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
  return null;
}

export function hostAllowed(hostname: string, allowlist: string[]): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return allowlist.some((entry) => (entry.startsWith('*.') ? host.endsWith(entry.slice(1)) && host.length > entry.length - 1 : host === entry));
}
