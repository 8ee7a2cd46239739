import { arrayLiteral } from './usage-rollups.repository';

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
