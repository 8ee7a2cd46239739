import type { Config } from 'jest';

import base, { e2eProject } from './jest.config';

/**
 * `npm run test:soak`: the full-scale versions of tests whose scale is their
 * whole cost (`test/**\/*.soak-spec.ts`, e.g. one bulk revocation of 10,000
 * credentials). `npm test` runs a smaller version of each that proves the same
 * property; nothing runs these automatically. Same harness as the e2e specs:
 * the run's migrated template database, one database and Redis prefix per file.
 */
const config: Config = {
  testTimeout: 600_000,
  maxWorkers: 1,
  globalSetup: base.globalSetup,
  globalTeardown: base.globalTeardown,
  projects: [{ ...e2eProject, displayName: 'soak', testMatch: ['<rootDir>/test/**/*.soak-spec.ts'] }],
};

export default config;
