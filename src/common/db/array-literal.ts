/** An element that needs no quotes in an array literal: not empty, not NULL, none of `{}",\` nor white space. */
const PLAIN_ELEMENT = /^[^{}",\\\s]+$/;
const NULL_WORD = /^null$/i;

/**
 * The Postgres array literal of the rows' values (the text of a `text[]`-like
 * parameter), each element quoted only when it needs to be, `null` as NULL.
 * node-postgres's own conversion escapes every element with two regex replaces
 * and formats every Date field by field in local time; the callers send
 * thousands of elements per statement (the usage flush,
 * src/enforcement/usage-rollups.repository.ts; a drain round's UPDATE,
 * src/gateways/deliveries.repository.ts).
 */
export function arrayLiteral<T>(rows: readonly T[], value: (row: T) => string | number | null): string {
  return `{${arrayElements(rows, value)}}`;
}

/** The elements of an array literal (arrayLiteral without its braces), comma-separated. */
export function arrayElements<T>(rows: readonly T[], value: (row: T) => string | number | null): string {
  let text = '';
  for (let i = 0; i < rows.length; i++) {
    const element = value(rows[i]!);
    if (i > 0) text += ',';
    if (element === null) text += 'NULL';
    else if (typeof element === 'number') text += element;
    else text += PLAIN_ELEMENT.test(element) && !NULL_WORD.test(element) ? element : `"${element.replace(/[\\"]/g, '\\$&')}"`;
  }
  return text;
}
