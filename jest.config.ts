import type { Config } from 'jest';

const transform: Config['transform'] = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
  // ESM-only dependencies Node requires natively but jest cannot (test/support/esm-to-cjs.cjs).
  '/node_modules/content-disposition/dist/.+\\.js$': '<rootDir>/test/support/esm-to-cjs.cjs',
};

/** node_modules is not transformed, except the ESM-only packages above. */
const transformIgnorePatterns = ['^(?!.*/node_modules/content-disposition/dist/).*/node_modules/'];

/** The end-to-end project: the real app on the real Postgres and Redis (test/support/test-app.ts). `jest.soak.config.ts` runs its soak specs the same way. */
export const e2eProject = {
  displayName: 'e2e',
  testEnvironment: 'node',
  rootDir: '.',
  testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
  transform,
  transformIgnorePatterns,
  setupFiles: ['reflect-metadata'],
};

/**
 * `npm test`: unit specs next to the code, and e2e specs in test/ that run the
 * real app on the real Postgres and Redis. Each e2e file gets its own database
 * (cloned from a migrated template) and its own Redis key prefix.
 */
const config: Config = {
  testTimeout: 60_000,
  maxWorkers: 2,
  // Each e2e file loads the whole app into a fresh module registry, and about
  // 50 MB of each stays reachable, so a worker that ran every file would end
  // past a gigabyte and its exit could outlast jest's 500 ms grace ("A worker
  // process has failed to exit gracefully"). A worker past this size after a
  // file is replaced before it takes the next one. Not lower: one file alone
  // leaves ~250 MB, and a new worker (a new process, jest and ts-jest loaded
  // again, V8's compiled code for the app's dependencies lost) costs about a
  // second of CPU, which at 256 MB was paid after nearly every file.
  workerIdleMemoryLimit: '1GB',
  transform,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testSequencer: '<rootDir>/test/support/slow-first-sequencer.cjs',
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
      transform,
    },
    e2eProject,
  ],
};

export default config;
