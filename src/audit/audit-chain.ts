import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Actor } from '../auth/actor';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * An audit event. The hash covers every field but `seq`: the chain's order is
 * already fixed by each event naming its predecessor's hash.
 */
export interface ChainedEvent {
  id: string;
  at: string;
  actor: Actor;
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
  return createHash('sha256').update(prevHash + canonicalEvent(event), 'utf8').digest('hex');
}

/** Our secrets and tokens are recognisable by prefix; none may ever reach the audit log. */
const SECRET_LIKE = /\b(agk_(live|test)_|agt_|whsec_)[A-Za-z0-9_-]{16,}/;

export function assertNoSecretValues(value: unknown, path = 'data'): void {
  if (typeof value === 'string') {
    if (SECRET_LIKE.test(value)) throw new Error(`refusing to write a secret-like value to the audit log at ${path}`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => assertNoSecretValues(v, `${path}[${i}]`));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) assertNoSecretValues(v, `${path}.${k}`);
  }
}
