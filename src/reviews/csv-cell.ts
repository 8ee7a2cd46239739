/**
 * Characters that make a spreadsheet read a cell as a formula (or, for tab
 * and carriage return, shift it into one), per OWASP's CSV injection advice.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A report cell as text that no spreadsheet evaluates: a leading `'` when it
 * starts like a formula. Quoting stays csv-stringify's job.
 */
export function neutraliseCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}
