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
  // Each e2e file loads the whole app into a fresh module registry, so a worker's
  // heap reached ~400 MB by the end of the run and its exit outlasted jest's
  // 500 ms grace ("A worker process has failed to exit gracefully"). A worker
  // past this size after a file is replaced before it takes the next one.
  workerIdleMemoryLimit: '256MB',
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
