import { getMetadataStorage, ValidateBy, ValidationOptions } from 'class-validator';

const FREE_TEXT = 'freeText';

/**
 * Marks a DTO property as free text people write (names, emails, comments,
 * reasons, statements). Where a secret-shaped value appears in free text the
 * request boundary (validation.ts) replaces it with a marker and the action
 * goes ahead; anywhere else (ids, URLs, scopes, enums, dates, filters) it is
 * refused with a 400 naming the field.
 *
 * It is a class-validator constraint that always passes, so the mark is
 * inherited by PartialType and friends like every other validation rule.
 */
export function FreeText(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: FREE_TEXT, validator: { validate: () => true } }, options);
}

const PRESENTED_SECRET = 'presentedSecret';

/**
 * Marks a DTO property whose whole point is to carry a secret someone found
 * (a leak report): the request boundary lets a secret-shaped value through in
 * it, unchanged. The controller hashes it at once and passes only the hash on;
 * the value is never stored, logged or audited.
 */
export function PresentedSecret(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: PRESENTED_SECRET, validator: { validate: () => true } }, options);
}

const caches = new Map<string, WeakMap<object, ReadonlySet<string>>>();

function markedPropertiesOf(dtoClass: object, mark: string): ReadonlySet<string> {
  let cache = caches.get(mark);
  if (!cache) caches.set(mark, (cache = new WeakMap()));
  let names = cache.get(dtoClass);
  if (!names) {
    const metadata = getMetadataStorage().getTargetValidationMetadatas(dtoClass as new () => unknown, '', true, false);
    names = new Set(metadata.filter((m) => m.name === mark).map((m) => m.propertyName));
    cache.set(dtoClass, names);
  }
  return names;
}

/** The free-text properties a DTO class (or one it inherits from) declares. */
export function freeTextPropertiesOf(dtoClass: object): ReadonlySet<string> {
  return markedPropertiesOf(dtoClass, FREE_TEXT);
}

/** The presented-secret properties a DTO class (or one it inherits from) declares. */
export function presentedSecretPropertiesOf(dtoClass: object): ReadonlySet<string> {
  return markedPropertiesOf(dtoClass, PRESENTED_SECRET);
}

/** A secret-shaped value replaced in a free-text field: where, and its SHA-256 (never the value). */
export interface Redaction {
  field: string;
  sha256: string;
}

const redactionsByBody = new WeakMap<object, Redaction[]>();

/**
 * The redactions made in one request body. The request context (auth/decorators.ts)
 * and the validation pipe both reach the same list through the parsed body:
 * Nest builds the context before the body's pipe has run, so the list is
 * shared and filled in place, and complete before the handler is called.
 */
export function redactionsOf(body: unknown): Redaction[] {
  if (body === null || typeof body !== 'object') return [];
  let list = redactionsByBody.get(body);
  if (!list) {
    list = [];
    redactionsByBody.set(body, list);
  }
  return list;
}
