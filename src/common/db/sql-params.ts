/**
 * The parameters of one SQL statement, numbered as they are added: `add`
 * appends a value and returns its placeholder (`$1`, `$2`, ...). A statement
 * built from optional parts (a list's filters, a multi-row VALUES) takes its
 * placeholders from here, so no caller counts them by hand and adding a part
 * never renumbers another.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}
