import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Actor } from '../auth/actor';

export const GENESIS_HASH = '0'.repeat(64);

/** The fields the hash covers, in RFC 8785 canonical JSON. */
export interface ChainedEvent {
  id: string;
  seq: number;
  at: string;
  actor: Actor;
  action: string;
  targetType: string;
  targetId: string;
  requestId: string;
  data: Record<string, unknown>;
}

export function chainHash(prevHash: string, event: ChainedEvent): string {
  const canonical = canonicalize({
    id: event.id,
    seq: event.seq,
    at: event.at,
    actor: event.actor,
    action: event.action,
    targetType: event.targetType,
    targetId: event.targetId,
    requestId: event.requestId,
    data: event.data,
  });
  if (canonical === undefined) throw new Error('audit event cannot be canonicalized');
  return createHash('sha256').update(prevHash + canonical, 'utf8').digest('hex');
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
