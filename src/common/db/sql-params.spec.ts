import { SqlParams } from './sql-params';

describe('SqlParams', () => {
  it('numbers placeholders in the order values are added', () => {
    const params = new SqlParams();
    const sql = `a = ${params.add('x')} AND b IN (${params.add(1)}, ${params.add(null)})`;
    expect(sql).toBe('a = $1 AND b IN ($2, $3)');
    expect(params.values).toEqual(['x', 1, null]);
  });
});
