import { buildMessage, isISO8601, ValidateBy, ValidationOptions } from 'class-validator';

/**
 * A strict ISO 8601 date-time that JavaScript and Postgres both read as the
 * same instant, years 1000..9999 (isISO8601's strict mode already refuses
 * most earlier ones). `isISO8601` alone passes forms `new Date`
 * cannot read (`2020-W01`, `-9999-01-01T00:00:00Z`: an Invalid Date that
 * failed the query, 500) and years Postgres cannot store.
 */
export function isTimestamp(value: unknown): value is string {
  return timestampMs(value) !== null;
}

const YEAR_1000 = Date.UTC(1000, 0, 1);
const YEAR_10000 = Date.UTC(10000, 0, 1);

/** `Date.prototype.toISOString`'s own form (years 1000..9999): what most clients send. */
const CANONICAL = /^[1-9]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The instant of a valid timestamp (isTimestamp) in epoch milliseconds, read
 * once; null when it is not one. A string in toISOString's form that reads
 * back as itself is a real date (no 30 February) and passes isISO8601's
 * strict check, so that check (a costly one, per event of a usage report) is
 * skipped for it.
 */
export function timestampMs(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  if (CANONICAL.test(value)) {
    const time = Date.parse(value);
    if (!Number.isNaN(time) && new Date(time).toISOString() === value) return time;
  }
  if (!isISO8601(value, { strict: true })) return null;
  const time = Date.parse(value);
  if (Number.isNaN(time) || time < YEAR_1000 || time >= YEAR_10000) return null;
  return time;
}

/** Every date-time field of a request body or query string. */
export function IsTimestamp(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTimestamp',
      validator: {
        validate: (value) => isTimestamp(value),
        defaultMessage: buildMessage((each) => `${each}$property must be an ISO 8601 date-time between the years 1000 and 9999`, options),
      },
    },
    options,
  );
}
