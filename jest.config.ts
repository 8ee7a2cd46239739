import type { Config } from 'jest';

const transform: Config['transform'] = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
};

/**
 * `npm test`: unit specs next to the code, and e2e specs in test/ that run the
 * real app on the real Postgres and Redis. Each e2e file gets its own database
 * (cloned from a migrated template) and its own Redis key prefix.
 */
const config: Config = {
  testTimeout: 60_000,
  maxWorkers: 2,
  transform,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
      transform,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      transform,
      setupFiles: ['reflect-metadata'],
    },
  ],
};

export default config;
