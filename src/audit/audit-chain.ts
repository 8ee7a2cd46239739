import { createHash } from 'node:crypto';

import canonicalize from 'canonicalize';

import type { RecordedActor } from '../auth/actor';
import { containsSecretShaped, SecretValueRefusedError } from '../common/secrets/secret-shape';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * An audit event. The hash covers every field but `seq`: the chain's order is
 * already fixed by each event naming its predecessor's hash.
 */
export interface ChainedEvent {
  id: string;
  at: string;
  actor: RecordedActor;
  action: string;
  targetType: string;
  targetId: string;
  requestId: string;
  data: Record<string, unknown>;
}

/** RFC 8785 canonical JSON of the hashed fields. */
export function canonicalEvent(event: ChainedEvent): string {
  const canonical = canonicalize({
    id: event.id,
    at: event.at,
    actor: event.actor,
    action: event.action,
    targetType: event.targetType,
    targetId: event.targetId,
    requestId: event.requestId,
    data: event.data,
  });
  if (canonical === undefined) throw new Error('audit event cannot be canonicalized');
  return canonical;
}

/** `sha256(prevHash + canonical event)`, hex. The database's audit_append computes the same. */
export function chainHash(prevHash: string, event: ChainedEvent): string {
  return createHash('sha256')
    .update(prevHash + canonicalEvent(event), 'utf8')
    .digest('hex');
}

/**
 * The audit log's last line of defence: requests have free text redacted and
 * other secret-shaped fields refused at the boundary (common/http/validation.ts),
 * so a hit here is a bug upstream. It is refused as bad input (400, nothing
 * written), never a crash, and the message names the path, never the value.
 */
export function assertNoSecretValues(value: unknown, path = 'data'): void {
  const found: string[] = [];
  collectSecretPaths(value, path, found);
  if (found.length) {
    throw new SecretValueRefusedError(
      `the audit log at ${found.join(', ')}`,
      found.map((field) => ({ field, message: 'holds a secret-shaped value' })),
    );
  }
}

function collectSecretPaths(value: unknown, path: string, found: string[]): void {
  if (typeof value === 'string') {
    if (containsSecretShaped(value)) found.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => collectSecretPaths(v, `${path}[${i}]`, found));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectSecretPaths(v, `${path}.${k}`, found);
  }
}
