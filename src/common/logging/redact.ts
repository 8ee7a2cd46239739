import { secretPrefixedPattern } from '../secrets/secret-shape';

/**
 * What never reaches a log line: the value of any field, at any depth, named
 * like one of the secrets, tokens, keys and credential headers below, and
 * secret-shaped strings inside messages.
 *
 * Names are compared without case, `-` or `_`, so `apiKey`, `api_key` and
 * `API-KEY` are one name.
 */
const SENSITIVE_NAMES = new Set(
  [
    'secret',
    'secrets',
    'token',
    'signingSecret',
    'signingSecrets',
    'secretString',
    'clientToken',
    'secretId',
    'password',
    'authorization',
    'cookie',
    'apiKey',
    'adminToken',
    'localStoreKey',
    'vaultToken',
    'vaultSecretId',
    'x-vault-token',
    'webhook-signature',
  ].map(normalise),
);

export const REDACTED = '[REDACTED]';

/** Deeper than any object our log calls pass; past it a value is replaced, not walked. */
const MAX_DEPTH = 8;

function normalise(name: string): string {
  return name.replace(/[-_]/g, '').toLowerCase();
}

export function isSensitiveName(name: string): boolean {
  return SENSITIVE_NAMES.has(normalise(name));
}

/**
 * Returns `value` with every sensitive field's value replaced by REDACTED, at
 * any depth of plain objects, arrays and errors. The input is never changed:
 * objects on the path to a censored field are copied, everything else is
 * shared, so a line with nothing to censor costs a walk and no copies.
 * Class instances other than errors (requests, responses, dates, buffers) are
 * left to their serializers.
 *
 * It replaces pino's path-based redaction, which needed one `*.name` path per
 * name to reach one level down and, measured here, cost 22 µs per line
 * against 1.7 µs for the line itself, and about 45 KB of garbage per access-log
 * line (a third of what a simple GET allocated). With this walk a line costs
 * 2.7 µs, and it reaches every depth.
 */
export function censorSensitive<T>(value: T): T {
  return censor(value, 0, new Set()) as T;
}

function censor(value: unknown, depth: number, seen: Set<object>): unknown {
  if (value === null || typeof value !== 'object') return value;
  const isArray = Array.isArray(value);
  const isError = value instanceof Error;
  if (!isArray && !isError && !isPlainObject(value)) return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return REDACTED;
  seen.add(value);
  try {
    if (isArray) {
      let copy: unknown[] | undefined;
      value.forEach((item: unknown, index) => {
        const censored = censor(item, depth + 1, seen);
        if (censored !== item) (copy ??= value.slice())[index] = censored;
      });
      return copy ?? value;
    }
    let copy: Record<string, unknown> | undefined;
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      // An absent value stays absent: a line without the field does not claim one.
      const censored = item !== undefined && isSensitiveName(key) ? REDACTED : censor(item, depth + 1, seen);
      if (censored !== item) (copy ??= shallowCopy(value, isError))[key] = censored;
    }
    return copy ?? value;
  } finally {
    seen.delete(value);
  }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A copy that keeps an error an error (same prototype, message and stack) for pino's error serializer. */
function shallowCopy(value: object, isError: boolean): Record<string, unknown> {
  if (!isError) return { ...(value as Record<string, unknown>) };
  const error = value as Error;
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Record<string, unknown>;
  Object.defineProperty(copy, 'message', { value: error.message, enumerable: false, writable: true });
  Object.defineProperty(copy, 'stack', { value: error.stack, enumerable: false, writable: true });
  return Object.assign(copy, error);
}

/** Values that start like one of our secrets or tokens (common/secrets/secret-shape.ts), wherever they appear in a message. */
const SENSITIVE_VALUE = secretPrefixedPattern();

export function scrubSecrets(text: string): string {
  return text.replace(
    SENSITIVE_VALUE,
    (_run: string, keyPrefix?: string, whsecPrefix?: string) => `${keyPrefix ?? whsecPrefix}${REDACTED}`,
  );
}
