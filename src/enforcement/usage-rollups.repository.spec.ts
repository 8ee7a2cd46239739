import { arrayLiteral } from '../common/db/array-literal';
import { UsageRollupsRepository } from './usage-rollups.repository';

describe('arrayLiteral', () => {
  it('leaves plain elements bare and quotes what Postgres would read otherwise', () => {
    // Checked against Postgres: SELECT $1::text[] gives these values back.
    const values = ['', 'NULL', 'null', 'a"b', 'a\\b', 'a,b', ' x', '{', 'ok:read', 'a\tb', 'é', '2026-12-06T13:00:00.000Z', 'nullx'];
    expect(arrayLiteral(values, (v) => v)).toBe(
      '{"","NULL","null","a\\"b","a\\\\b","a,b"," x","{",ok:read,"a\tb",é,2026-12-06T13:00:00.000Z,nullx}',
    );
  });

  it('is an empty array for no rows', () => {
    expect(arrayLiteral([], String)).toBe('{}');
  });
});

describe('UsageRollupsRepository.prepare', () => {
  const rows = Array.from({ length: 1_234 }, (_, i) => ({
    credentialId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    hour: new Date(Date.UTC(2026, 11, 6, i % 3)),
    scope: i % 7 === 0 ? '' : 'customers:read',
    outcome: i % 5 === 0 ? ('denied' as const) : ('allowed' as const),
    denyCode: i % 5 === 0 ? 'SCOPE_DENIED' : '',
    calls: i + 1,
  }));
  const ipRows = rows.map((r, i) => ({ credentialId: r.credentialId, hour: r.hour, ip: i % 2 ? '10.0.0.1' : '::1', calls: 2, denied: 1 }));

  it('gives the same array literals as formatting all rows at once', async () => {
    const prepared = await new UsageRollupsRepository().prepare(rows, ipRows);
    expect(prepared.hourly).toEqual([
      arrayLiteral(rows, (r) => r.credentialId),
      arrayLiteral(rows, (r) => r.hour.toISOString()),
      arrayLiteral(rows, (r) => r.scope),
      arrayLiteral(rows, (r) => r.outcome),
      arrayLiteral(rows, (r) => r.denyCode),
      arrayLiteral(rows, (r) => String(r.calls)),
    ]);
    expect(prepared.byIp).toEqual([
      arrayLiteral(ipRows, (r) => r.credentialId),
      arrayLiteral(ipRows, (r) => r.hour.toISOString()),
      arrayLiteral(ipRows, (r) => r.ip),
      arrayLiteral(ipRows, () => '2'),
      arrayLiteral(ipRows, () => '1'),
    ]);
    expect(await new UsageRollupsRepository().prepare([], [])).toEqual({ hourly: null, byIp: null });
  });

  it('lets the event loop run between slices (a verification waiting meanwhile is answered before the flush is prepared)', async () => {
    let ran = 0;
    const tick = () => {
      ran++;
      if (ran < 100) setImmediate(tick);
    };
    setImmediate(tick);
    const ranBefore = ran;
    await new UsageRollupsRepository().prepare(rows, ipRows);
    // 1,234 rows are three slices each for the hourly and the address rows: callbacks ran between them.
    expect(ran - ranBefore).toBeGreaterThanOrEqual(4);
  });
});
