import { createHash } from 'node:crypto';

import canonicalize from 'canonicalize';

/** One item as an owner attests to it in a sign-off. */
export interface AttestedDecision {
  itemId: string;
  credentialId: string;
  status: string;
  decision: string | null;
  scopesBefore: string[];
  scopesAfter: string[] | null;
  outcome: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
}

/**
 * The canonical list an owner signs: its decisions sorted by item id, in RFC
 * 8785 canonical JSON (as the audit chain uses), so anyone can recompute the
 * hash from the report.
 */
export function canonicalDecisions(decisions: AttestedDecision[]): string {
  const sorted = [...decisions]
    .sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0))
    .map((d) => ({
      itemId: d.itemId,
      credentialId: d.credentialId,
      status: d.status,
      decision: d.decision,
      scopesBefore: d.scopesBefore,
      scopesAfter: d.scopesAfter,
      outcome: d.outcome,
      decidedBy: d.decidedBy,
      decidedAt: d.decidedAt,
      comment: d.comment,
    }));
  const canonical = canonicalize(sorted);
  if (canonical === undefined) throw new Error('decisions cannot be canonicalized');
  return canonical;
}

export function decisionsSha256(decisions: AttestedDecision[]): string {
  return createHash('sha256').update(canonicalDecisions(decisions), 'utf8').digest('hex');
}
