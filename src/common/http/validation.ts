import { ArgumentMetadata, Injectable, PipeTransform, Type, ValidationError, ValidationPipe } from '@nestjs/common';

import { FieldError, InvalidInputError } from '../errors/domain-error';
import { containsSecretShaped, redactSecretShaped } from '../secrets/secret-shape';
import { freeTextPropertiesOf, presentedSecretPropertiesOf, Redaction, redactionsOf } from './free-text';

/** Flattens class-validator's tree into one entry per field: `rateLimit.requests`, `scopes[1]`. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = fieldPath(parent, error.property);
    for (const message of Object.values(error.constraints ?? {})) {
      out.push({ field, message: message.startsWith(error.property) ? message.slice(error.property.length).trim() : message });
    }
    if (error.children?.length) out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}

function fieldPath(parent: string, key: string): string {
  return /^\d+$/.test(key) ? `${parent}[${key}]` : parent ? `${parent}.${key}` : key;
}

/** An unpaired UTF-16 surrogate: no Unicode character, and Postgres refuses it in text and jsonb. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What no string of a request may hold, whatever its field: Postgres stores
 * neither NUL nor unpaired surrogates (in text or jsonb), so they are refused
 * here with the field's name instead of failing a statement later.
 */
export function stringProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain NUL (\\u0000) characters';
  if (LONE_SURROGATE.test(text)) return 'must not contain unpaired UTF-16 surrogates';
  return null;
}

/** The names every object inherits (`constructor`, `toString`, `hasOwnProperty`, `__proto__`, ...). */
const RESERVED_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * Checks every key and value of a parsed body or query string, at any depth
 * (bodies nest at most MAX_JSON_DEPTH levels: the JSON parser refuses deeper
 * ones), iteratively. JSON `null` is refused in bodies: no field of this API
 * is cleared by null, and an optional field that is present must be valid.
 * Keys named like Object.prototype's members are refused too.
 */
function inspectRaw(root: object, kind: 'body' | 'query'): FieldError[] {
  const errors: FieldError[] = [];
  const pending: Array<{ value: unknown; path: string }> = [];
  const expand = (container: object, base: string) => {
    if (Array.isArray(container)) {
      container.forEach((value, i) => pending.push({ value, path: fieldPath(base, String(i)) }));
      return;
    }
    for (const [key, value] of Object.entries(container)) {
      const path = fieldPath(base, key);
      const problem = stringProblem(key);
      if (problem) errors.push({ field: path, message: `field names ${problem}` });
      // `constructor`, `toString`, ...: class-transformer and class-validator read these off every object, so such a
      // key crashed validation when nested (500) and slipped past the whitelist at the top. No field is named so.
      if (RESERVED_NAMES.has(key)) errors.push({ field: path, message: 'is not a field of this API' });
      pending.push({ value, path });
    }
  };
  expand(root, '');
  while (pending.length) {
    const { value, path } = pending.pop()!;
    if (typeof value === 'string') {
      const problem = stringProblem(value);
      if (problem) errors.push({ field: path, message: problem });
    } else if (value === null) {
      if (kind === 'body') errors.push({ field: path, message: 'must not be null; leave the field out instead' });
    } else if (typeof value === 'object') {
      expand(value, path);
    }
  }
  return errors;
}

/**
 * Secret-shaped values in a validated DTO: in a free-text field each is
 * replaced in place by its marker and recorded; anywhere else it is an error
 * naming the field. Nested DTOs are classes of their own (class-transformer
 * built them), each with its own free-text fields.
 */
function handleSecretShaped(dto: object): { errors: FieldError[]; redactions: Redaction[] } {
  const errors: FieldError[] = [];
  const redactions: Redaction[] = [];
  const walk = (value: unknown, path: string, freeText: boolean, holder: Record<string, unknown> | unknown[], key: string | number) => {
    if (typeof value === 'string') {
      if (!containsSecretShaped(value)) return;
      const redacted = freeText ? redactSecretShaped(value) : null;
      if (redacted) {
        (holder as Record<string | number, unknown>)[key] = redacted.text;
        for (const sha256 of redacted.sha256s) redactions.push({ field: path, sha256 });
      } else {
        errors.push({ field: path, message: 'must not hold a secret or token (agk_…, agt_…, whsec_…); it was not stored' });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}[${i}]`, freeText, value, i));
    } else if (value !== null && typeof value === 'object') {
      walkObject(value as Record<string, unknown>, path);
    }
  };
  const walkObject = (object: Record<string, unknown>, base: string) => {
    const freeText = freeTextPropertiesOf(object.constructor);
    const presented = presentedSecretPropertiesOf(object.constructor);
    for (const key of Object.keys(object)) {
      if (presented.has(key)) continue;
      walk(object[key], fieldPath(base, key), freeText.has(key), object, key);
    }
  };
  walkObject(dto as Record<string, unknown>, '');
  return { errors, redactions };
}

/**
 * The one validation layer for request bodies and query strings:
 *
 * 1. a body or query must be a JSON object (an array, a bare string or `null`
 *    is refused before validation, so it cannot slip past the whitelist);
 * 2. no key or string anywhere holds NUL or an unpaired surrogate, no key is an
 *    Object.prototype name, and no body field is `null` (inspectRaw);
 * 3. class-validator, with unknown fields rejected;
 * 4. secret-shaped values: redacted in free text (the `@FreeText()` fields),
 *    let through in the `@PresentedSecret()` fields (a leak report's secret),
 *    refused everywhere else. A body's redactions are recorded for the request
 *    context (free-text.ts), so the action's audit event says what was redacted.
 *
 * Every refusal is a 400 that names each field.
 */
@Injectable()
export class StrictValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
      stopAtFirstError: false,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => new InvalidInputError(flattenValidationErrors(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const kind = metadata.type === 'body' || metadata.type === 'query' ? metadata.type : null;
    if (!kind || !this.toValidate(metadata)) return super.transform(value, metadata);
    if (value !== undefined) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw InvalidInputError.field(kind, 'must be a JSON object');
      }
      const errors = inspectRaw(value, kind);
      if (errors.length) throw new InvalidInputError(errors);
    }
    const dto: unknown = await super.transform(value, metadata);
    if (dto !== null && typeof dto === 'object') {
      const { errors, redactions } = handleSecretShaped(dto);
      if (errors.length) throw new InvalidInputError(errors);
      if (kind === 'body') redactionsOf(value).push(...redactions);
    }
    return dto;
  }
}

/**
 * A body that is a JSON array of objects (the GitLab and GitHub leak-report
 * formats): at most `maxItems`, each item checked by StrictValidationPipe as
 * a body of class `itemClass`, with refused fields named `[i].field`.
 * `prepare` may adjust each object item before any check (drop what a
 * partner sends that the API has no use for).
 */
export async function validateArrayBody<T extends object>(
  value: unknown,
  itemClass: Type<T>,
  maxItems: number,
  prepare: (item: Record<string, unknown>) => Record<string, unknown> = (item) => item,
): Promise<T[]> {
  if (!Array.isArray(value)) throw InvalidInputError.field('body', 'must be a JSON array');
  if (value.length > maxItems) throw InvalidInputError.field('body', `must hold at most ${maxItems} items`);
  const pipe = new StrictValidationPipe();
  const items: T[] = [];
  const errors: FieldError[] = [];
  for (const [i, raw] of value.entries()) {
    const item = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? prepare(raw as Record<string, unknown>) : raw;
    try {
      items.push((await pipe.transform(item, { type: 'body', metatype: itemClass })) as T);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      const prefix = `[${i}]`;
      errors.push(...error.errors.map((e) => ({ ...e, field: e.field === 'body' ? prefix : `${prefix}.${e.field}` })));
    }
  }
  if (errors.length) throw new InvalidInputError(errors);
  return items;
}

/** `@Body(new ArrayBodyPipe(ItemDto, 1000))`: validateArrayBody as a pipe. */
export class ArrayBodyPipe<T extends object> implements PipeTransform<unknown, Promise<T[]>> {
  constructor(
    private readonly itemClass: Type<T>,
    private readonly maxItems: number,
    private readonly prepare?: (item: Record<string, unknown>) => Record<string, unknown>,
  ) {}

  transform(value: unknown): Promise<T[]> {
    return validateArrayBody(value, this.itemClass, this.maxItems, this.prepare);
  }
}
