import { assertNoSecretValues, ChainedEvent, chainHash, GENESIS_HASH } from './audit-chain';

const event: ChainedEvent = {
  id: '5c7c3a58-2f66-4d2f-9a55-4f2c3f0a9b11',
  at: '2026-11-23T10:00:00.000Z',
  actor: { tokenId: 'bootstrap-admin', role: 'admin', ownerId: null },
  action: 'owner.created',
  targetType: 'owner',
  targetId: 'b1',
  requestId: 'r1',
  data: { name: 'Payments', kind: 'team' },
};

describe('audit chain', () => {
  it('hashes the previous hash with the canonical event', () => {
    const hash = chainHash(GENESIS_HASH, event);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    // Key order does not matter (canonical JSON), content does.
    expect(chainHash(GENESIS_HASH, { ...event, data: { kind: 'team', name: 'Payments' } })).toBe(hash);
    expect(chainHash(GENESIS_HASH, { ...event, data: { name: 'Payment', kind: 'team' } })).not.toBe(hash);
    expect(chainHash('f'.repeat(64), event)).not.toBe(hash);
    expect(chainHash(GENESIS_HASH, { ...event, at: '2026-11-23T10:00:00.001Z' })).not.toBe(hash);
  });

  it('refuses secret-like values anywhere in the data', () => {
    expect(() => assertNoSecretValues({ a: [{ b: 'agk_live_' + 'x'.repeat(49) }] })).toThrow('data.a[0].b');
    expect(() => assertNoSecretValues({ note: 'whsec_' + 'A'.repeat(40) })).toThrow();
    expect(() => assertNoSecretValues({ scopes: ['customers:read'], count: 3 })).not.toThrow();
  });
});
