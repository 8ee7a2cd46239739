import { buildMessage, isISO8601, ValidateBy, ValidationOptions } from 'class-validator';

/**
 * A strict ISO 8601 date-time that JavaScript and Postgres both read as the
 * same instant, years 1000..9999 (isISO8601's strict mode already refuses
 * most earlier ones). `isISO8601` alone passes forms `new Date`
 * cannot read (`2020-W01`, `-9999-01-01T00:00:00Z`: an Invalid Date that
 * failed the query, 500) and years Postgres cannot store.
 */
export function isTimestamp(value: unknown): value is string {
  if (typeof value !== 'string' || !isISO8601(value, { strict: true })) return false;
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) return false;
  const year = time.getUTCFullYear();
  return year >= 1000 && year <= 9999;
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
