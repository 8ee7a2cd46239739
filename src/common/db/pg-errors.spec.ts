import { isDatabaseUnavailable, isUniqueViolation } from './pg-errors';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it('recognises connection-level failures, bare or wrapped by TypeORM', () => {
    const outages: unknown[] = [
      withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      withCode('ECONNRESET'),
      withCode('57P01', 'terminating connection due to administrator command'),
      withCode('57P03', 'the database system is starting up'),
      withCode('08006'),
      withCode('53300', 'sorry, too many clients already'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      withCode('55000', 'database "x" is not currently accepting connections'),
      { driverError: withCode('08003') },
      Object.assign(new Error('query failed'), { driverError: new Error('Connection terminated due to connection timeout') }),
      new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'all addresses failed'),
      new Error('wrapped', { cause: withCode('57P02') }),
    ];
    for (const error of outages) expect([error, isDatabaseUnavailable(error)]).toEqual([error, true]);
  });

  it('leaves statement errors, bad input and non-errors alone', () => {
    for (const error of [
      withCode('23505'),
      withCode('22021', 'invalid byte sequence'),
      withCode('55000', 'object not in prerequisite state'),
      withCode('22P02'),
      new Error('boom'),
      null,
      'ECONNREFUSED',
      42,
    ]) {
      expect(isDatabaseUnavailable(error)).toBe(false);
    }
  });

  it('still tells unique violations apart', () => {
    expect(isUniqueViolation({ driverError: { code: '23505', constraint: 'owners_email_key' } }, 'owners_email_key')).toBe(true);
    expect(isDatabaseUnavailable({ driverError: { code: '23505' } })).toBe(false);
  });
});
