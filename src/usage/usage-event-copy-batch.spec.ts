import { COPY_BLOCK_BYTES, CopyBlockPool, UsageEventCopyBatch } from './usage-event-copy-batch';
import type { UsageEventRecord } from './usage-event-sink';

const record = (n: number, overrides: Partial<UsageEventRecord> = {}): UsageEventRecord => ({
  id: `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`,
  at: new Date(Date.UTC(2026, 11, 6, 12, 0, 0, n)),
  credentialId: '11111111-1111-4111-8111-111111111111',
  clientId: 'client-1',
  ownerId: '22222222-2222-4222-8222-222222222222',
  source: 'gateway',
  gatewayId: null,
  method: 'GET',
  path: `/orders/${n}`,
  scope: 'orders:read',
  statusCode: 200,
  ip: '198.51.100.7',
  requestId: `r${n}`,
  outcome: 'allowed',
  denyCode: null,
  ...overrides,
});

const text = (batch: UsageEventCopyBatch) => Buffer.concat([...batch.chunks()]).toString('utf8');

describe('UsageEventCopyBatch (per-call records waiting as COPY text)', () => {
  it('encodes each record as one line of COPY text, escaping what COPY treats specially, in UTF-8', () => {
    const batch = new UsageEventCopyBatch(new CopyBlockPool(4));
    batch.add(record(1));
    batch.add(
      record(2, { path: '/a\tb\\c\nd\r\u00e9\u{1F600}', requestId: 'r\\N', scope: null, outcome: 'denied', denyCode: 'SCOPE_DENIED' }),
    );
    expect(batch.size).toBe(2);
    expect(text(batch)).toBe(
      '00000000-0000-7000-8000-000000000001\t2026-12-06T12:00:00.001Z\t11111111-1111-4111-8111-111111111111\tclient-1\t' +
        '22222222-2222-4222-8222-222222222222\tgateway\t\\N\tGET\t/orders/1\torders:read\t200\t198.51.100.7\tr1\tallowed\t\\N\n' +
        '00000000-0000-7000-8000-000000000002\t2026-12-06T12:00:00.002Z\t11111111-1111-4111-8111-111111111111\tclient-1\t' +
        '22222222-2222-4222-8222-222222222222\tgateway\t\\N\tGET\t/a\\tb\\\\c\\nd\\r\u00e9\u{1F600}\t\\N\t200\t198.51.100.7\tr\\\\N\tdenied\tSCOPE_DENIED\n',
    );
    expect([...batch.days]).toEqual([Date.UTC(2026, 11, 6)]);
  });

  it('spreads records over blocks without splitting a line, keeps their order across append, and gives blocks back on release', () => {
    const pool = new CopyBlockPool(64);
    const first = new UsageEventCopyBatch(pool);
    const later = new UsageEventCopyBatch(pool);
    const long = 'x'.repeat(2000);
    for (let i = 0; i < 200; i++) first.add(record(i, { path: `/${long}` }));
    for (let i = 200; i < 300; i++) later.add(record(i));
    const chunks = [...first.chunks()];
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(chunk[chunk.length - 1]).toBe(0x0a);
    first.append(later);
    expect(later.size).toBe(0);
    expect(first.size).toBe(300);
    const lines = text(first).split('\n').slice(0, -1);
    expect(lines.map((line) => line.split('\t')[12])).toEqual(Array.from({ length: 300 }, (_, i) => `r${i}`));
    first.release();
    expect(first.size).toBe(0);
    expect(pool.idle).toBe(chunks.length + 1);
  });

  it('drops the newest records past a bound whole blocks at a time, never below it', () => {
    const batch = new UsageEventCopyBatch(new CopyBlockPool(64));
    for (let i = 0; i < 2000; i++) batch.add(record(i));
    const perBlock = Math.floor(COPY_BLOCK_BYTES / text(batch).split('\n')[0]!.length);
    const dropped = batch.truncate(1000);
    expect(dropped + batch.size).toBe(2000);
    expect(batch.size).toBeGreaterThanOrEqual(1000);
    expect(batch.size).toBeLessThan(1000 + perBlock + 1);
    expect(text(batch).split('\n')[batch.size - 1]!.split('\t')[12]).toBe(`r${batch.size - 1}`);
  });

  it('gives a line longer than a block a buffer of its own', () => {
    const batch = new UsageEventCopyBatch(new CopyBlockPool(4));
    batch.add(record(1, { path: `/${'\u00e9'.repeat(COPY_BLOCK_BYTES)}` }));
    expect(text(batch).split('\t')[8]).toBe(`/${'\u00e9'.repeat(COPY_BLOCK_BYTES)}`);
  });
});
