import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { Logger } from '@nestjs/common';
import nodeVault from 'node-vault';
import { DataSource } from 'typeorm';

import { Clock, SystemClock } from '../../src/common/clock/clock';
import { dataSourceOptions } from '../../src/common/db/data-source-options';
import type { AppConfig } from '../../src/config/app-config';
import { AwsSecretsManagerStore, AwsStoreOptions, secretName } from '../../src/secret-stores/aws-secrets-manager.store';
import { LocalSecretVersionEntity } from '../../src/secret-stores/entities/local-secret-version.entity';
import { LocalSecretStore } from '../../src/secret-stores/local.store';
import type { SecretTarget } from '../../src/secret-stores/secret-store';
import { VaultSecretStore, VaultStoreOptions } from '../../src/secret-stores/vault.store';
import type { AwsSecretsManagerDouble } from '../doubles/aws-secrets-manager-double';
import type { VaultDouble } from '../doubles/vault-double';
import type { StoreFaults, StoreHarness } from './store-contract';

/** The adapters log each retry; the fault tests make hundreds of them on purpose. */
export function quietStoreLogs(): void {
  Logger.overrideLogger(['error']);
}

/** Calls in tests: short timeouts and backoff, so fault tests stay fast. */
export const TEST_CALLS = { timeoutMs: 400, maxAttempts: 3, retryBaseDelayMs: 5 };

/** An address where nothing listens (a port we bound and released). */
export async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** The harness, closing also stops the double it was made on. */
export function stoppingDouble(harness: StoreHarness, double: { stop(): Promise<void> }): StoreHarness {
  return {
    ...harness,
    async close() {
      await harness.close();
      await double.stop();
    },
  };
}

// ---- local -------------------------------------------------------------------

export async function localHarness(databaseUrl: string): Promise<StoreHarness> {
  const dataSource = await new DataSource({ ...dataSourceOptions(databaseUrl, 10), entities: [LocalSecretVersionEntity] }).initialize();
  const config = { secretStores: { local: { key: randomBytes(32) } } } as unknown as AppConfig;
  const store = new LocalSecretStore(dataSource, new SystemClock(), config);
  const rows = (target: SecretTarget) =>
    dataSource.query('SELECT version, state FROM local_secret_versions WHERE credential_id = $1', [target.credentialId]) as Promise<
      Array<{ version: number; state: string }>
    >;
  return {
    store,
    versionCount: async (target) => (await rows(target)).length,
    async currentSecret(target) {
      const current = (await rows(target)).find((r) => r.state === 'current');
      return current ? store.readVersion(target, String(current.version)) : null;
    },
    exists: async (target) => (await rows(target)).length > 0,
    close: () => dataSource.destroy(),
  };
}

// ---- Vault -------------------------------------------------------------------

export interface VaultHarnessOptions {
  address: string;
  token?: string;
  roleId?: string;
  secretId?: string;
  namespace?: string;
  mount?: string;
  /** For inspection when the store logs in with AppRole. */
  inspectToken?: string;
  double?: VaultDouble;
  clock?: Clock;
  /** Real services need longer timeouts than the doubles. */
  calls?: typeof TEST_CALLS;
}

export function vaultOptions(o: VaultHarnessOptions): VaultStoreOptions {
  return {
    address: o.address,
    token: o.token,
    roleId: o.roleId,
    secretId: o.secretId,
    namespace: o.namespace,
    mount: o.mount ?? 'secret',
    maxVersions: 20,
    ...(o.calls ?? TEST_CALLS),
  };
}

export async function vaultHarness(o: VaultHarnessOptions): Promise<StoreHarness> {
  const store = new VaultSecretStore(vaultOptions(o), o.clock ?? new SystemClock());
  const mount = o.mount ?? 'secret';
  const inspect = nodeVault({ endpoint: o.address, token: o.inspectToken ?? o.token, namespace: o.namespace, noCustomHTTPVerbs: true });
  const keyPath = (t: SecretTarget) => `agents/${t.agentId}/${t.credentialId}`;
  const metadata = async (t: SecretTarget) => {
    try {
      return (await inspect.read(`${mount}/metadata/${keyPath(t)}`)).data as {
        versions: Record<string, unknown>;
        custom_metadata: Record<string, string> | null;
      };
    } catch (error) {
      if ((error as { response?: { statusCode?: number } }).response?.statusCode === 404) return null;
      throw error;
    }
  };
  const unreachableStores: VaultSecretStore[] = [];
  return {
    store,
    versionCount: async (t) => Object.keys((await metadata(t))?.versions ?? {}).length,
    async currentSecret(t) {
      const current = (await metadata(t))?.custom_metadata?.current_version;
      if (!current) return null;
      return (await inspect.read(`${mount}/data/${keyPath(t)}?version=${current}`)).data.data.secret as string;
    },
    exists: async (t) => (await metadata(t)) !== null,
    faults: o.double ? vaultFaults(o.double) : undefined,
    timeoutMs: TEST_CALLS.timeoutMs,
    async unreachable() {
      const nowhere = new VaultSecretStore(vaultOptions({ ...o, address: await deadAddress() }), new SystemClock());
      unreachableStores.push(nowhere);
      return nowhere;
    },
    async close() {
      store.close();
      for (const s of unreachableStores) s.close();
    },
  };
}

function vaultFaults(vault: VaultDouble): StoreFaults {
  return {
    fail: (count, kind) => vault.faults.failNext(count, kind === 'server' ? 500 : kind === 'unavailable' ? 503 : 429),
    drop: (count, afterApplying) => vault.faults.dropNext(count, { afterApplying }),
    latency: (ms) => (vault.faults.latencyMs = ms),
    clear: () => vault.faults.clear(),
  };
}

// ---- AWS Secrets Manager -------------------------------------------------------

export interface AwsHarnessOptions {
  endpoint: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  recoveryWindowDays?: number;
  double?: AwsSecretsManagerDouble;
  calls?: typeof TEST_CALLS;
}

export function awsOptions(o: AwsHarnessOptions): AwsStoreOptions {
  return {
    region: o.region ?? 'us-east-1',
    endpoint: o.endpoint,
    credentials: o.credentials ?? { accessKeyId: 'test', secretAccessKey: 'test' },
    recoveryWindowDays: o.recoveryWindowDays,
    ...(o.calls ?? TEST_CALLS),
  };
}

export async function awsHarness(o: AwsHarnessOptions): Promise<StoreHarness> {
  const options = awsOptions(o);
  const store = new AwsSecretsManagerStore(options);
  const inspect = new SecretsManagerClient({
    region: options.region,
    endpoint: options.endpoint,
    credentials: options.credentials,
    maxAttempts: 3,
  });
  const missing = (error: unknown) => (error as { name?: string }).name === 'ResourceNotFoundException';
  const unreachableStores: AwsSecretsManagerStore[] = [];
  return {
    store,
    async versionCount(t) {
      try {
        const out = await inspect.send(new ListSecretVersionIdsCommand({ SecretId: secretName(t), IncludeDeprecated: true }));
        return out.Versions?.length ?? 0;
      } catch (error) {
        if (missing(error)) return 0;
        throw error;
      }
    },
    async currentSecret(t) {
      try {
        return (await inspect.send(new GetSecretValueCommand({ SecretId: secretName(t) }))).SecretString ?? null;
      } catch (error) {
        if (missing(error)) return null;
        throw error;
      }
    },
    async exists(t) {
      try {
        return !(await inspect.send(new DescribeSecretCommand({ SecretId: secretName(t) }))).DeletedDate;
      } catch (error) {
        if (missing(error)) return false;
        throw error;
      }
    },
    faults: o.double ? awsFaults(o.double) : undefined,
    timeoutMs: TEST_CALLS.timeoutMs,
    async unreachable() {
      const nowhere = new AwsSecretsManagerStore(awsOptions({ ...o, endpoint: await deadAddress() }));
      unreachableStores.push(nowhere);
      return nowhere;
    },
    async close() {
      store.close();
      inspect.destroy();
      for (const s of unreachableStores) s.close();
    },
  };
}

function awsFaults(aws: AwsSecretsManagerDouble): StoreFaults {
  return {
    fail: (count, kind) => {
      if (kind === 'server') aws.faults.failNext(count, 500);
      else if (kind === 'unavailable') aws.faults.failNext(count, 503, { type: 'ServiceUnavailable' });
      // Secrets Manager throttles with HTTP 400 ThrottlingException.
      else aws.faults.failNext(count, 400, { type: 'ThrottlingException' });
    },
    drop: (count, afterApplying) => aws.faults.dropNext(count, { afterApplying }),
    latency: (ms) => (aws.faults.latencyMs = ms),
    clear: () => aws.faults.clear(),
  };
}
