import { createHash } from 'node:crypto';

import { AttestedDecision, canonicalDecisions, decisionsSha256 } from './decisions-digest';

const decision = (itemId: string, extra: Partial<AttestedDecision> = {}): AttestedDecision => ({
  itemId,
  credentialId: `c-${itemId}`,
  status: 'decided',
  decision: 'keep',
  scopesBefore: ['p:read'],
  scopesAfter: ['p:read'],
  outcome: 'kept',
  decidedBy: 'tok',
  decidedAt: '2030-01-01T00:00:00.000Z',
  comment: null,
  ...extra,
});

describe('decisionsSha256', () => {
  it('does not depend on the order the items come in', () => {
    const a = decision('a');
    const b = decision('b', { decision: 'revoke', scopesAfter: [], outcome: 'revoked' });
    expect(decisionsSha256([b, a])).toBe(decisionsSha256([a, b]));
  });

  it('is SHA-256 of RFC 8785 JSON sorted by item id, keys sorted', () => {
    const canonical = canonicalDecisions([decision('b'), decision('a')]);
    expect(canonical.startsWith('[{"comment":null,"credentialId":"c-a","decidedAt"')).toBe(true);
    expect(decisionsSha256([decision('a'), decision('b')])).toBe(createHash('sha256').update(canonical).digest('hex'));
  });

  it('changes when any decision changes', () => {
    const base = decisionsSha256([decision('a')]);
    expect(decisionsSha256([decision('a', { comment: 'x' })])).not.toBe(base);
    expect(decisionsSha256([decision('a', { scopesAfter: [] })])).not.toBe(base);
  });
});
