import fc from 'fast-check';

import type { ApiParameter, ApiRoute, Schema } from '../support/api-routes';

/** What the generators know of the world: real ids and values that pass validation, to get past the first check. */
export interface Hints {
  ids: string[];
  /** Plausible values by property name (`scopes` items, `url`, ...). */
  byName: Record<string, unknown[]>;
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Strings shaped like our secrets and tokens, alone or inside prose. */
export const secretShaped: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('agk_live_', 'agk_test_', 'agt_', 'whsec_'),
    fc.string({ unit: fc.constantFrom(...BASE62), minLength: 16, maxLength: 60 }),
    fc.constantFrom('', 'leaked: ', 'see ', 'x'),
    fc.constantFrom('', ' in a gist', '.', '@example.com'),
  )
  .map(([prefix, body, before, after]) => `${before}${prefix}${body}${after}`);

/** One more than the JSON depth cap, up to far past it: written as text, since building it as a value would recurse. */
export const deepJsonText: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 33, max: 20_000 }), fc.constantFrom('[', '{"a":'), fc.constantFrom('x', 'name', 'reason'))
  .map(([depth, open, key]) => `{"${key}":${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}}`);

/** Out-of-range, unreadable and foreign cursors: base64url JSON as the API writes them, and worse. */
export const hostileCursor: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.oneof(
        fc.constantFrom(
          '+275760-09-13T00:00:00.000Z',
          '-271821-04-20T00:00:00.000Z',
          '0000-01-01T00:00:00.000Z',
          '+010000-01-01T00:00:00.000Z',
          '2020-02-30T00:00:00.000Z',
          'garbage',
        ),
        fc.integer().map((n) => new Date(n * 1000).toString()),
        fc.double(),
      ),
      fc.oneof(fc.uuid(), fc.string()),
    )
    .map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url')),
  fc.string(),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  secretShaped,
);

/** Strings that are hostile to something downstream (Postgres, JSON, validators, the audit log). */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfff',
    '\udbff\udbff',
    '😀',
    '%00',
    '__proto__',
    'constructor',
    "'; DROP TABLE owners; --",
    '{{7*7}}',
    '\u202e',
  ),
  fc.integer({ min: 1, max: 5000 }).map((n) => 'x'.repeat(n)),
  secretShaped,
);

/** Any JSON-ish value of the wrong kind: nulls, huge and odd numbers, booleans, nested containers. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileString,
    fc.constant(null),
    fc.boolean(),
    fc.constantFrom(0, -0, -1, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, -1e308, 5e-324, 0.5),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A value the schema describes, often valid, sometimes at or past its edges. */
export function schemaValue(
  schema: Schema | undefined,
  name: string,
  hints: Hints,
  resolve: (s: Schema | undefined) => Schema | undefined,
): fc.Arbitrary<unknown> {
  const s = resolve(schema) ?? {};
  const hinted = hints.byName[name];
  const options: Array<fc.Arbitrary<unknown>> = hinted?.length ? [fc.constantFrom(...hinted)] : [];
  if (s.enum?.length) options.push(fc.constantFrom(...s.enum));
  else if (s.format === 'uuid') options.push(fc.constantFrom(...hints.ids), fc.uuid());
  else if (s.format === 'date-time') {
    options.push(
      fc
        .date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true })
        .map((d) => d.toISOString()),
    );
  } else if (s.type === 'number' || s.type === 'integer') {
    const min = s.minimum ?? -1000;
    const max = s.maximum ?? 1000;
    options.push(fc.integer({ min, max }), fc.constantFrom(min - 1, max + 1, min + 0.5));
  } else if (s.type === 'boolean') options.push(fc.boolean());
  else if (s.type === 'array') {
    options.push(fc.array(schemaValue(s.items, name, hints, resolve), { maxLength: 4 }), fc.constant([]));
  } else if (s.type === 'object' || s.properties) options.push(objectFor(s, hints, resolve));
  else if (s.type === 'string') {
    if (s.pattern) options.push(fc.stringMatching(new RegExp(s.pattern)));
    options.push(fc.string({ minLength: 1, maxLength: Math.min(s.maxLength ?? 40, 40) }));
    if (s.maxLength) options.push(fc.constant('y'.repeat(s.maxLength + 1)));
    if (s.example !== undefined) options.push(fc.constant(s.example));
  }
  if (options.length === 0) options.push(hostileValue);
  return fc.oneof({ arbitrary: fc.oneof(...options), weight: 4 }, { arbitrary: hostileValue, weight: 1 });
}

/** An object of the schema's shape: any subset of its properties, sometimes an unknown one too. */
export function objectFor(
  schema: Schema,
  hints: Hints,
  resolve: (s: Schema | undefined) => Schema | undefined,
): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) model[name] = schemaValue(property, name, hints, resolve);
  return fc
    .tuple(fc.record(model, { requiredKeys: [] }), fc.option(fc.dictionary(hostileString, hostileValue, { maxKeys: 2 }), { freq: 5 }))
    .map(([known, extra]) => ({ ...(extra ?? {}), ...known }));
}

/** What a request to a write route sends as its body: JSON text (usually an object of the route's shape). */
export function bodyFor(
  route: ApiRoute,
  hints: Hints,
  resolve: (s: Schema | undefined) => Schema | undefined,
): fc.Arbitrary<string | undefined> {
  const shaped = route.body ? objectFor(route.body, hints, resolve) : fc.dictionary(hostileString, hostileValue, { maxKeys: 3 });
  return fc.oneof(
    { arbitrary: shaped.map((body) => JSON.stringify(body)), weight: 8 },
    { arbitrary: hostileValue.map((value) => JSON.stringify(value) ?? 'null'), weight: 1 },
    { arbitrary: deepJsonText, weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
}

/** Percent-encodes a query value; lone surrogates (which encodeURIComponent refuses) go as their CESU-8 bytes. */
export function encodeQueryValue(value: string): string {
  return value.replace(/[^]/gu, (c) => {
    if (c.length === 1 && c.charCodeAt(0) >= 0xd800 && c.charCodeAt(0) <= 0xdfff) {
      const code = c.charCodeAt(0);
      return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    }
    return encodeURIComponent(c);
  });
}

/** A query string for a route: its documented parameters (plausible or hostile), sometimes repeated or unknown ones. */
export function queryFor(route: ApiRoute, hints: Hints, resolve: (s: Schema | undefined) => Schema | undefined): fc.Arbitrary<string> {
  const parameters = route.parameters.filter((p): p is ApiParameter => p.in === 'query');
  const valueOf = (p: ApiParameter): fc.Arbitrary<string> => {
    const plausible = schemaValue(p.schema, p.name, hints, resolve).map((v) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? '')));
    const hostile = p.name === 'cursor' ? fc.oneof(hostileCursor, hostileString) : hostileString;
    return fc.oneof(
      { arbitrary: plausible, weight: 2 },
      { arbitrary: hostile, weight: 2 },
      { arbitrary: fc.constantFrom('%00', 'a%00b', '%ED%A0%80', '%FF', '%'), weight: 1 },
    );
  };
  const pairs = fc.array(
    fc.oneof(
      {
        arbitrary: parameters.length
          ? fc.constantFrom(...parameters).chain((p) => valueOf(p).map((v) => [p.name, v] as const))
          : fc.constant(['limit', '1'] as const),
        weight: 6,
      },
      { arbitrary: fc.tuple(hostileString, hostileString), weight: 1 },
    ),
    { maxLength: 5 },
  );
  return pairs.map((list) =>
    list
      .map(([k, v]) => {
        // The fixed raw escapes are sent as they are; everything else is encoded.
        const raw = /^(%00|a%00b|%ED%A0%80|%FF|%)$/.test(v);
        return `${encodeQueryValue(k)}=${raw ? v : encodeQueryValue(v)}`;
      })
      .join('&'),
  );
}
