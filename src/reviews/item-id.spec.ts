import { itemIdSql } from './item-id';

describe('itemIdSql', () => {
  it('builds a version 8 UUID from the campaign id and the ordinal', () => {
    const sql = itemIdSql('h', 'n');
    expect(sql).toContain("'-8' || substr(h, 14, 3)");
    expect(sql).toContain("lpad(to_hex(n), 12, '0')");
    expect(sql.trim().endsWith('::uuid')).toBe(true);
  });
});
