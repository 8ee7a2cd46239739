import Ajv, { ErrorObject } from 'ajv';
import { isIP, isUUID } from 'class-validator';

import { isTimestamp } from '../common/http/timestamp';
import { stringProblem } from '../common/http/validation';
import { containsSecretShaped } from '../common/secrets/secret-shape';
import { SCOPE_PATTERN } from '../enforcement/verification-codes';
import { DENY_CODES, MAX_USAGE_EVENTS, UsageEventInputDto } from './dto/usage.dto';

export interface UsageFieldError {
  field: string;
  message: string;
}

/** The event as sent (not copied), once it passed every rule of UsageEventInputDto; `atMs` is `at` read once. */
export interface ValidUsageEvent {
  event: UsageEventInputDto;
  atMs: number;
}

const OUTCOMES = ['allowed', 'denied'];

/** class-validator's messages for UsageEventInputDto's decorators (and the request boundary's), so answers read as before. */
const M = {
  uuid: 'must be a UUID',
  string: 'must be a string',
  max128: 'must be shorter than or equal to 128 characters',
  max2048: 'must be shorter than or equal to 2048 characters',
  timestamp: 'must be an ISO 8601 date-time between the years 1000 and 9999',
  method: 'must be an HTTP method name',
  path: 'must start with /',
  scope: 'must look like product:operation',
  int: 'must be an integer number',
  min: 'must not be less than 100',
  max: 'must not be greater than 599',
  ip: 'must be an ip address',
  requestId: 'must be printable ASCII without spaces',
  outcome: `must be one of the following values: ${OUTCOMES.join(', ')}`,
  denyCode: `must be one of the following values: ${DENY_CODES.join(', ')}`,
  secret: 'must not hold a secret or token (agk_…, agt_…, whsec_…); it was not stored',
  null: 'must not be null; leave the field out instead',
};

/**
 * The formats are class-validator's own predicates (the ones UsageEventInputDto's
 * @IsUUID/@IsIP/@IsTimestamp use), not ajv-formats': its `uuid` also takes a
 * `urn:uuid:` prefix and its ip formats differ from validator.js's isIP at the
 * edges, and the DTO is the contract the OpenAPI document shows.
 */
const ajv = new Ajv({ allErrors: true, messages: false, strict: true });
ajv.addFormat('uuid', { type: 'string', validate: (value: string) => isUUID(value) });
ajv.addFormat('ip', { type: 'string', validate: (value: string) => isIP(value) });
ajv.addFormat('timestamp', { type: 'string', validate: isTimestamp });

/** UsageEventInputDto as JSON Schema: one property per decorated field, its decorators as keywords. */
const validateEventSchema = ajv.compile({
  type: 'object',
  properties: {
    credentialId: { type: 'string', format: 'uuid' },
    clientId: { type: 'string', maxLength: 128 },
    at: { type: 'string', format: 'timestamp' },
    method: { type: 'string', pattern: '^[A-Za-z]{1,16}$' },
    path: { type: 'string', maxLength: 2048, pattern: '^/' },
    scope: { type: 'string', pattern: SCOPE_PATTERN.source },
    statusCode: { type: 'integer', minimum: 100, maximum: 599 },
    ip: { type: 'string', format: 'ip' },
    requestId: { type: 'string', maxLength: 128, pattern: '^[\\x21-\\x7e]+$' },
    outcome: { enum: OUTCOMES },
    denyCode: { enum: DENY_CODES },
  },
  required: ['at', 'method', 'path', 'statusCode', 'ip', 'requestId', 'outcome'],
  additionalProperties: false,
});

/** A field's message for a failed keyword; `type` (and `required`, `format`, `enum`) take the field's first one. */
const FIELD_MESSAGES: Record<string, { type: string } & Record<string, string | undefined>> = {
  credentialId: { type: M.uuid },
  clientId: { type: M.string, maxLength: M.max128 },
  at: { type: M.timestamp },
  method: { type: M.string, pattern: M.method },
  path: { type: M.string, maxLength: M.max2048, pattern: M.path },
  scope: { type: M.string, pattern: M.scope },
  statusCode: { type: M.int, minimum: M.min, maximum: M.max },
  ip: { type: M.ip },
  requestId: { type: M.string, maxLength: M.max128, pattern: M.requestId },
  outcome: { type: M.outcome },
  denyCode: { type: M.denyCode },
};

/** Ajv's errors for one event as {field, message}: the property it names, in class-validator's words. */
function schemaErrors(event: Record<string, unknown>, errors: readonly ErrorObject[]): UsageFieldError[] {
  const out: UsageFieldError[] = [];
  for (const error of errors) {
    if (error.keyword === 'additionalProperties') {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      out.push({ field: key, message: `property ${key} should not exist` });
      continue;
    }
    const field =
      error.keyword === 'required' ? (error.params as { missingProperty: string }).missingProperty : error.instancePath.slice(1);
    const messages = FIELD_MESSAGES[field]!;
    out.push({ field, message: event[field] === null ? M.null : (messages[error.keyword] ?? messages.type) });
  }
  return out;
}

/** The rule between the two ways to name a credential: exactly one of them (UsageIngestionService looks it up by either). */
function credentialReferenceError(event: Record<string, unknown>): UsageFieldError | null {
  return !event.credentialId === !event.clientId
    ? { field: 'credentialId', message: 'give exactly one of credentialId and clientId' }
    : null;
}

/** denyCode says why a denied call was denied: required with outcome denied, absent with allowed. */
function denyCodeError(event: Record<string, unknown>): UsageFieldError | null {
  if (event.outcome === 'denied' && event.denyCode === undefined)
    return { field: 'denyCode', message: 'is required when outcome is denied' };
  if (event.outcome === 'allowed' && event.denyCode !== undefined)
    return { field: 'denyCode', message: 'must be absent when outcome is allowed' };
  return null;
}

/**
 * What no request string may hold (src/common/http/validation.ts's stringProblem,
 * src/common/secrets/secret-shape.ts), for the free-form fields; the other
 * fields' patterns and formats already exclude it.
 */
function boundaryStringErrors(event: Record<string, unknown>): UsageFieldError[] {
  const out: UsageFieldError[] = [];
  for (const field of ['clientId', 'path', 'requestId'] as const) {
    const text = event[field];
    if (typeof text !== 'string') continue;
    const problem = stringProblem(text);
    if (problem) out.push({ field, message: problem });
    else if (containsSecretShaped(text)) out.push({ field, message: M.secret });
  }
  return out;
}

/**
 * One reported event's checks: UsageEventInputDto's decorators as a JSON Schema
 * compiled once by Ajv (src/usage/usage-event-validator.spec.ts holds its answers
 * to class-validator's on generated events), then what a schema cannot say, as
 * the small functions above: one credential reference, denyCode with outcome,
 * and the request boundary's rules (no `null` is the schema's type error,
 * reworded; no NUL, unpaired surrogate or secret-shaped string). A failing
 * event is refused alone, by its index. The time window against the clock is
 * atWindowError, applied by UsageIngestionService.
 */
export function validateUsageEvent(value: unknown): ValidUsageEvent | UsageFieldError[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [{ field: 'event', message: 'must be a JSON object' }];
  const event = value as Record<string, unknown>;
  const errors = validateEventSchema(event) ? [] : dedupe(schemaErrors(event, validateEventSchema.errors ?? []));
  const reference = credentialReferenceError(event);
  if (reference) errors.push(reference);
  const denyCode = denyCodeError(event);
  if (denyCode) errors.push(denyCode);
  errors.push(...boundaryStringErrors(event));
  if (errors.length) return errors;
  // The schema's timestamp format passed, so `at` is a string Date.parse reads (src/common/http/timestamp.ts).
  return { event: value as UsageEventInputDto, atMs: Date.parse(event.at as string) };
}

function dedupe(errors: UsageFieldError[]): UsageFieldError[] {
  if (errors.length < 2) return errors;
  const seen = new Set<string>();
  return errors.filter((e) => !seen.has(`${e.field}\u0000${e.message}`) && !!seen.add(`${e.field}\u0000${e.message}`));
}

/** `at` against the clock: not later than `latest` (now plus the allowed skew), not before `earliest` (the retention). */
export function atWindowError(atMs: number, window: { earliest: number; latest: number; retentionDays: number }): UsageFieldError | null {
  if (atMs > window.latest) return { field: 'at', message: 'is in the future' };
  if (atMs < window.earliest) return { field: 'at', message: `is older than the ${window.retentionDays} days usage is kept` };
  return null;
}

/** The envelope of POST /v1/usage: `{ events }` with 1..MAX_USAGE_EVENTS items; the items are not looked into here. */
const validateBatchSchema = ajv.compile({
  type: 'object',
  properties: { events: { type: 'array', minItems: 1, maxItems: MAX_USAGE_EVENTS } },
  required: ['events'],
  additionalProperties: false,
});

const BATCH_MESSAGES: Record<string, string> = {
  required: 'must be an array',
  type: 'must be an array',
  minItems: 'must contain at least 1 elements',
  maxItems: `must contain no more than ${MAX_USAGE_EVENTS} elements`,
};

/**
 * The envelope `{ events: [...] }` with 1..MAX_USAGE_EVENTS items: its
 * errors, each naming `events` (or the unknown field), in class-validator's
 * messages; null when it is fine. The events themselves are not looked into.
 */
export function usageBatchErrors(body: unknown = {}): UsageFieldError[] | null {
  if (validateBatchSchema(body)) return null;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [{ field: 'body', message: 'must be a JSON object' }];
  return (validateBatchSchema.errors ?? []).map((error) => {
    if (error.keyword === 'additionalProperties') {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      return { field: key, message: `property ${key} should not exist` };
    }
    return { field: 'events', message: BATCH_MESSAGES[error.keyword] ?? 'must be an array' };
  });
}
