import ipaddr from 'ipaddr.js';

import type { CredentialEnforcementRow, VersionRow } from './credential-versions.repository';

export type ParsedRange = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** One version of a credential as verification sees it. */
export interface EnforcedVersion {
  /** SHA-256 (hex) of the version's secret. */
  sha256: string;
  version: number;
  /** Epoch ms from which the version is refused (the end of its grace period); null while it has no end. */
  validUntilMs: number | null;
  /** Retired for good (`credential.version_retired`). */
  retired: boolean;
}

/**
 * A credential as a replica enforces it: built once from Postgres when a key
 * of it is first presented, shared by the cache entries of all its versions.
 * Kept small, since a replica holds one per credential in use (100,000 of them
 * must fit in a few tens of MB): its first version is held in the object
 * itself (it is that version's EnforcedVersion), the others, which exist only
 * during a grace period, in `otherVersions`; the values many credentials share
 * (scope lists, rate limits, agent and owner ids, empty allowlists) are shared
 * rather than copied, through `intern`. A separate array and object per
 * version cost some 80 bytes a credential, a fifth of its entry.
 */
export interface EnforcedCredential extends EnforcedVersion {
  credentialId: string;
  clientId: string;
  agentId: string;
  ownerId: string;
  environment: 'sandbox' | 'production';
  status: CredentialEnforcementRow['status'];
  scopes: readonly string[];
  rateLimit: Readonly<{ requests: number; perSeconds: number }>;
  /** Parsed CIDR blocks; empty: any address. */
  allowlist: readonly ParsedRange[];
  /**
   * The versions after the first (the first is the object itself) that a
   * gateway was told of; null when there is only the one. A credential with
   * no version at all (an access token's, see verification.service.ts) has
   * an empty `sha256`, which no presented key hashes to.
   */
  otherVersions: readonly EnforcedVersion[] | null;
}

/** Past this many shared values the pool starts again (sharing is only a saving; nothing depends on it). */
const MAX_INTERNED = 100_000;
let interned = new Map<string, unknown>();
const NO_ADDRESSES: readonly ParsedRange[] = Object.freeze([]);

/** One shared instance per distinct value (by `key`): many credentials have the same agent, owner, scopes and limit. */
function intern<T>(key: string, make: () => T): T {
  const found = interned.get(key);
  if (found !== undefined) return found as T;
  if (interned.size >= MAX_INTERNED) interned = new Map();
  const value = make();
  interned.set(key, value);
  return value;
}

export function toEnforcedCredential(row: CredentialEnforcementRow): EnforcedCredential {
  const [first, ...others] = row.versions.map(toEnforcedVersion);
  return {
    credentialId: row.credentialId,
    clientId: row.clientId,
    agentId: intern(`a:${row.agentId}`, () => row.agentId),
    ownerId: intern(`o:${row.ownerId}`, () => row.ownerId),
    environment: row.environment === 'production' ? 'production' : 'sandbox',
    status: intern(`s:${row.status}`, () => row.status),
    scopes: intern(`c:${row.scopes.join(' ')}`, () => Object.freeze([...row.scopes])),
    rateLimit: intern(`r:${row.rateLimitRequests}/${row.rateLimitPerSeconds}`, () =>
      Object.freeze({ requests: row.rateLimitRequests, perSeconds: row.rateLimitPerSeconds }),
    ),
    allowlist: row.ipAllowlist.length === 0 ? NO_ADDRESSES : row.ipAllowlist.flatMap(parseRange),
    sha256: first?.sha256 ?? '',
    version: first?.version ?? 0,
    validUntilMs: first?.validUntilMs ?? null,
    retired: first?.retired ?? true,
    otherVersions: others.length ? others : null,
  };
}

function toEnforcedVersion(v: VersionRow): EnforcedVersion {
  return { sha256: v.sha256, version: v.version, validUntilMs: v.validUntil?.getTime() ?? null, retired: v.retiredAt !== null };
}

/** Every version of `credential` a gateway was told of, oldest first. */
export function versionsOf(credential: EnforcedCredential): readonly EnforcedVersion[] {
  if (credential.sha256 === '') return [];
  return credential.otherVersions ? [credential, ...credential.otherVersions] : [credential];
}

function parseRange(cidr: string): ParsedRange[] {
  try {
    return [ipaddr.parseCIDR(cidr)];
  } catch {
    return [];
  }
}

/** The version of `credential` whose secret has this SHA-256 (hex). */
export function versionOf(credential: EnforcedCredential, sha256: string): EnforcedVersion | undefined {
  if (credential.sha256 === sha256 && sha256 !== '') return credential;
  return credential.otherVersions?.find((v) => v.sha256 === sha256);
}

/** Whether a version is refused at `nowMs`: retired, or past the end of its grace period. */
export function isRetiredAt(version: EnforcedVersion, nowMs: number): boolean {
  return version.retired || (version.validUntilMs !== null && version.validUntilMs <= nowMs);
}

/** Whether an address (already parsed) falls in the allowlist; an empty list allows every address. */
export function addressAllowed(allowlist: readonly ParsedRange[], address: ipaddr.IPv4 | ipaddr.IPv6 | null): boolean {
  if (allowlist.length === 0) return true;
  if (!address) return false;
  const candidates: Array<ipaddr.IPv4 | ipaddr.IPv6> = [address];
  // ::ffff:10.0.0.1 is the IPv4 address 10.0.0.1 (a dual-stack proxy writes it that way).
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress())
    candidates.push((address as ipaddr.IPv6).toIPv4Address());
  return allowlist.some(([range, prefix]) => candidates.some((a) => a.kind() === range.kind() && a.match(range, prefix)));
}

/**
 * A client address as a gateway sends it, parsed; null when it is not an IPv4
 * (four-part decimal) or IPv6 address. IPv6 zone ids (`fe80::1%eth0`) are refused.
 */
export function parseAddress(value: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (value.length === 0 || value.length > 64) return null;
  if (!ipaddr.isValid(value) || value.includes('%')) return null;
  if (ipaddr.IPv4.isIPv4(value) && !ipaddr.IPv4.isValidFourPartDecimal(value)) return null;
  try {
    return ipaddr.parse(value);
  } catch {
    return null;
  }
}
