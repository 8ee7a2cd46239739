import 'reflect-metadata';

import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import fc from 'fast-check';

import { flattenValidationErrors } from '../common/http/validation';
import { DENY_CODES, MAX_USAGE_EVENTS, UsageEventInputDto } from './dto/usage.dto';
import { atWindowError, usageBatchErrors, UsageFieldError, validateUsageEvent } from './usage-event-validator';

/** What class-validator says of an event with the DTO's decorators, and the rules between fields: the validator's oracle. */
function oracle(value: object): UsageFieldError[] {
  const event = plainToInstance(UsageEventInputDto, value);
  const errors = flattenValidationErrors(
    validateSync(event, {
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      validationError: { target: false, value: false },
    }),
  );
  if (!event.credentialId === !event.clientId)
    errors.push({ field: 'credentialId', message: 'give exactly one of credentialId and clientId' });
  if (event.outcome === 'denied' && event.denyCode === undefined)
    errors.push({ field: 'denyCode', message: 'is required when outcome is denied' });
  if (event.outcome === 'allowed' && event.denyCode !== undefined) {
    errors.push({ field: 'denyCode', message: 'must be absent when outcome is allowed' });
  }
  return errors;
}

const fieldsOf = (errors: UsageFieldError[]) => [...new Set(errors.map((e) => e.field))].sort();
const pairs = (errors: UsageFieldError[]) => errors.map((e) => `${e.field}: ${e.message}`);
const errorsOf = (value: unknown): UsageFieldError[] => {
  const checked = validateUsageEvent(value);
  return Array.isArray(checked) ? checked : [];
};

/** Plain text without NUL, surrogates or secret shapes (the request boundary's rules, tested below on their own). */
const text = fc.string({ maxLength: 24, unit: fc.constantFrom(...'aZ09 /?:-_.%!~\t\u00e9'.split('')) });
const other = fc.oneof(
  text,
  fc.integer(),
  fc.double({ noDefaultInfinity: true, noNaN: true }),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
  fc.constant(['x']),
);
const field = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: other, weight: 1 }, { arbitrary: fc.constant(undefined), weight: 1 });

const event = fc.record(
  {
    credentialId: field(fc.oneof(fc.uuid(), fc.constant('00000000-0000-4000-8000-000000000000'), fc.constant('not-a-uuid'))),
    clientId: field(fc.oneof(text, fc.constant('c'.repeat(129)))),
    at: field(
      fc.oneof(
        fc.date({ min: new Date('0900-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }).map((d) => d.toISOString()),
        fc.constantFrom(
          '2026-12-06T04:00:00Z',
          '2026-12-06',
          '2020-W01',
          '-9999-01-01T00:00:00Z',
          '2026-13-01T00:00:00Z',
          '0999-12-31T23:59:59Z',
        ),
      ),
    ),
    method: field(fc.constantFrom('GET', 'post', 'M-SEARCH', 'A'.repeat(17), '')),
    path: field(
      fc.oneof(
        text.map((s) => `/${s}`),
        text,
        fc.constant(`/${'p'.repeat(2048)}`),
      ),
    ),
    scope: field(fc.constantFrom('orders:read', 'Orders:read', 'orders', 'a:b', 'ab:c')),
    statusCode: field(fc.oneof(fc.integer({ min: 0, max: 700 }), fc.double({ min: 100, max: 599, noNaN: true }))),
    ip: field(fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('198.51.100.7', '::ffff:1.2.3.4', '1.2.3', 'fe80::1%eth0', '01.02.03.04'))),
    requestId: field(fc.oneof(text, fc.constant('r'.repeat(129)))),
    outcome: field(fc.constantFrom('allowed', 'denied', 'maybe')),
    denyCode: field(fc.constantFrom(...DENY_CODES, 'VALID', 'nope')),
    extra: fc.option(fc.constant(1), { nil: undefined }),
  },
  { requiredKeys: [] },
);

describe('validateUsageEvent', () => {
  // Same verdict, same fields named, and every message one class-validator gives for that field. Not every one of
  // them: for a value of the wrong type class-validator fails each decorator of the field (a number as `path` is
  // "must be a string", "must be shorter than…" and "must start with /"), the schema says only its type.
  it('says what class-validator says of UsageEventInputDto: the same fields, in its messages', () => {
    fc.assert(
      fc.property(event, (value) => {
        const plain = JSON.parse(JSON.stringify(value)) as object;
        const ours = errorsOf(plain);
        const theirs = oracle(plain);
        expect(fieldsOf(ours)).toEqual(fieldsOf(theirs));
        expect(pairs(theirs)).toEqual(expect.arrayContaining(pairs(ours)));
      }),
      { numRuns: 3000 },
    );
  });

  it('passes a good event through as sent, with its time read once', () => {
    const good = {
      credentialId: '00000000-0000-4000-8000-000000000000',
      at: '2026-12-06T04:00:00.000Z',
      method: 'GET',
      path: '/orders?x=1',
      statusCode: 200,
      ip: '198.51.100.7',
      requestId: 'r1',
      outcome: 'denied',
      denyCode: 'SCOPE_DENIED',
    };
    const checked = validateUsageEvent(good);
    expect(checked).toEqual({ event: good, atMs: Date.parse(good.at) });
    expect(oracle(good)).toEqual([]);
  });

  it('refuses what no body may hold, in the one event: null, NUL, unpaired surrogates, secret shapes, prototype names', () => {
    const base = {
      clientId: 'c1',
      at: '2026-12-06T04:00:00Z',
      method: 'GET',
      path: '/x',
      statusCode: 200,
      ip: '::1',
      requestId: 'r',
      outcome: 'allowed',
    };
    expect(errorsOf({ ...base, scope: null })).toEqual([{ field: 'scope', message: 'must not be null; leave the field out instead' }]);
    expect(errorsOf({ ...base, path: null }).map((e) => e.field)).toEqual(['path']);
    expect(errorsOf({ ...base, path: '/a\u0000b' }).map((e) => e.field)).toEqual(['path']);
    expect(errorsOf({ ...base, clientId: 'c\uD800' }).map((e) => e.field)).toEqual(['clientId']);
    expect(errorsOf({ ...base, path: `/keys/agk_live_${'A'.repeat(43)}` })).toEqual([
      { field: 'path', message: expect.stringContaining('secret') },
    ]);
    expect(errorsOf({ ...base, path: `/x?key=agt_${'A'.repeat(43)}` }).map((e) => e.field)).toEqual(['path']);
    expect(errorsOf(JSON.parse(`{"constructor": 1, ${JSON.stringify(base).slice(1)}`)).map((e) => e.field)).toEqual(['constructor']);
    expect(errorsOf('not an event')).toEqual([{ field: 'event', message: 'must be a JSON object' }]);
    expect(errorsOf([base])).toEqual([{ field: 'event', message: 'must be a JSON object' }]);
  });
});

describe('the checks beside the schema', () => {
  it("keeps the DTO's uuid format (ajv-formats' would take a urn:uuid: prefix) and the time window against the clock", () => {
    const ok = { at: '2026-12-06T04:00:00Z', method: 'GET', path: '/x', statusCode: 200, ip: '::1', requestId: 'r', outcome: 'allowed' };
    const urn = { ...ok, credentialId: 'urn:uuid:00000000-0000-4000-8000-000000000000' };
    expect(errorsOf(urn)).toEqual([{ field: 'credentialId', message: 'must be a UUID' }]);
    expect(oracle(urn)).toEqual([{ field: 'credentialId', message: 'must be a UUID' }]);
    const window = { earliest: 1_000, latest: 2_000, retentionDays: 30 };
    expect(atWindowError(2_000, window)).toBeNull();
    expect(atWindowError(1_000, window)).toBeNull();
    expect(atWindowError(2_001, window)).toEqual({ field: 'at', message: 'is in the future' });
    expect(atWindowError(999, window)).toEqual({ field: 'at', message: 'is older than the 30 days usage is kept' });
  });
});

describe('usageBatchErrors', () => {
  it('names events for a batch that is not 1..1000 events, and unknown fields by name', () => {
    const fields = (body: unknown) => usageBatchErrors(body)?.map((e) => e.field);
    expect(usageBatchErrors({ events: [{}] })).toBeNull();
    expect(usageBatchErrors({ events: Array.from({ length: MAX_USAGE_EVENTS }, () => 1) })).toBeNull();
    expect(fields(undefined)).toContain('events');
    expect(fields({})).toContain('events');
    expect(fields({ events: [] })).toEqual(['events']);
    expect(fields({ events: 'x' })).toContain('events');
    expect(fields({ events: Array.from({ length: MAX_USAGE_EVENTS + 1 }, () => 1) })).toEqual(['events']);
    expect(fields({ events: [1], more: 1 })).toEqual(['more']);
    expect(fields([])).toEqual(['body']);
  });
});
