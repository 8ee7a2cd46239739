import type { Config } from 'jest';

/**
 * `npm run test:integration`: the store contract against a real Vault and a
 * real Secrets Manager (LocalStack), when VAULT_ADDR / AWS_ENDPOINT_URL say
 * where they are (docker-compose.yml starts both). Not part of `npm test`:
 * those match *.e2e-spec.ts and *.spec.ts, these are *.integration-spec.ts.
 */
const config: Config = {
  testTimeout: 60_000,
  maxWorkers: 1,
  rootDir: '.',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.integration-spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }] },
  setupFiles: ['reflect-metadata'],
};

export default config;
