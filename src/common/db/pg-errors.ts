/** Whether a database error is a unique-constraint violation (SQLSTATE 23505), optionally of a named constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const driver = (error as { driverError?: { code?: string; constraint?: string } })?.driverError;
  return driver?.code === '23505' && (constraint === undefined || driver.constraint === constraint);
}
