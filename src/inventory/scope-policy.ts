import type { FieldError } from '../common/errors/domain-error';
import { Operation, OPERATIONS, PRIVILEGED_OPERATIONS } from './entities/product.entity';

export const PRODUCT_NAME_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;
const SCOPE_PATTERN = /^([a-z][a-z0-9-]{1,62}):([a-z]+)$/;

export interface ParsedScope {
  product: string;
  operation: Operation;
}

/**
 * Least privilege at provisioning: every scope is an explicit
 * `product:operation` pair from the catalog. No wildcards, no duplicates.
 * Returns one error per offending scope, named `scopes[i]`.
 */
export function checkScopes(scopes: string[], catalog: ReadonlyMap<string, readonly string[]>, field = 'scopes'): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  scopes.forEach((scope, i) => {
    const at = `${field}[${i}]`;
    if (scope.includes('*')) {
      errors.push({ field: at, message: 'wildcards are not allowed; name each product:operation' });
      return;
    }
    const match = SCOPE_PATTERN.exec(scope);
    if (!match) {
      errors.push({ field: at, message: 'must be product:operation, e.g. customers:read' });
      return;
    }
    const [, product, operation] = match;
    if (!(OPERATIONS as readonly string[]).includes(operation)) {
      errors.push({ field: at, message: `operation must be one of ${OPERATIONS.join(', ')}` });
      return;
    }
    const offered = catalog.get(product);
    if (!offered) {
      errors.push({ field: at, message: `product ${product} is not in the catalog` });
      return;
    }
    if (!offered.includes(operation)) {
      errors.push({ field: at, message: `product ${product} does not offer ${operation}` });
      return;
    }
    if (seen.has(scope)) {
      errors.push({ field: at, message: 'is a duplicate' });
      return;
    }
    seen.add(scope);
  });
  return errors;
}

/** Product names a scope list refers to (well-formed ones only), for the catalog lookup. */
export function productsOf(scopes: string[]): string[] {
  const names = new Set<string>();
  for (const scope of scopes) {
    const match = SCOPE_PATTERN.exec(scope);
    if (match) names.add(match[1]);
  }
  return [...names];
}

export function isPrivileged(scope: string): boolean {
  const operation = scope.slice(scope.lastIndexOf(':') + 1);
  return (PRIVILEGED_OPERATIONS as readonly string[]).includes(operation);
}

/** Privileged scopes in `next` that `current` does not already grant. */
export function addedPrivilegedScopes(current: readonly string[], next: readonly string[]): string[] {
  const had = new Set(current);
  return next.filter((scope) => isPrivileged(scope) && !had.has(scope));
}
