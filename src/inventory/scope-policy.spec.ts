import { addedPrivilegedScopes, checkScopes, productsOf } from './scope-policy';

const catalog = new Map<string, string[]>([
  ['customers', ['read', 'write']],
  ['payments', ['read', 'write', 'delete', 'admin']],
]);

describe('checkScopes', () => {
  it('accepts explicit product:operation pairs the catalog offers', () => {
    expect(checkScopes(['customers:read', 'payments:delete'], catalog)).toEqual([]);
  });

  it.each([
    ['*', 'wildcards are not allowed'],
    ['customers:*', 'wildcards are not allowed'],
    ['*:read', 'wildcards are not allowed'],
    ['customers', 'must be product:operation'],
    ['Customers:read', 'must be product:operation'],
    ['customers:execute', 'operation must be one of read, write, delete, admin'],
    ['unknown:read', 'product unknown is not in the catalog'],
    ['customers:delete', 'product customers does not offer delete'],
  ])('refuses %s, naming the entry', (scope, message) => {
    const errors = checkScopes(['customers:read', scope], catalog);
    expect(errors).toHaveLength(1);
    expect(errors[0].field).toBe('scopes[1]');
    expect(errors[0].message).toContain(message);
  });

  it('refuses duplicates at the repeated position', () => {
    expect(checkScopes(['customers:read', 'customers:write', 'customers:read'], catalog)).toEqual([
      { field: 'scopes[2]', message: 'is a duplicate' },
    ]);
  });

  it('lists the products referred to, for the catalog lookup', () => {
    expect(productsOf(['customers:read', 'payments:write', 'customers:write', 'bad'])).toEqual(['customers', 'payments']);
  });

  it('finds privileged scopes that a change adds', () => {
    expect(addedPrivilegedScopes(['payments:delete'], ['payments:delete', 'payments:admin', 'payments:write'])).toEqual(['payments:admin']);
    expect(addedPrivilegedScopes(['payments:delete', 'payments:read'], ['payments:read'])).toEqual([]);
  });
});
