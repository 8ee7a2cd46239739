/**
 * `npm run bench:stores`: writes/s and reads/s of each secret store adapter at
 * concurrency 1 and 32, with p50 and p99 latency, one figure per line as
 * `name: value unit`. These are the floors the rotation engine is measured against.
 *
 * - local: LocalSecretStore on the real Postgres (a fresh, migrated database).
 * - vault / aws: the adapters over real HTTP to the protocol doubles, which run
 *   in a child process of their own so they do not share this event loop.
 *
 * A write is a first version (Vault: CAS data write + metadata write; AWS:
 * CreateSecret; local: one INSERT); a read is one version by id.
 * BENCH_SECONDS (default 3) is the length of each measured phase.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';

import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { SystemClock } from '../src/common/clock/clock';
import { dataSourceOptions } from '../src/common/db/data-source-options';
import type { AppConfig } from '../src/config/app-config';
import { AwsSecretsManagerStore } from '../src/secret-stores/aws-secrets-manager.store';
import { LocalSecretVersionEntity } from '../src/secret-stores/entities/local-secret-version.entity';
import { LocalSecretStore } from '../src/secret-stores/local.store';
import type { SecretStore, SecretTarget } from '../src/secret-stores/secret-store';
import { VaultSecretStore } from '../src/secret-stores/vault.store';
import { figure, freshDatabase, percentile, runMain, startOwnChild } from './support';

const PHASE_MS = Number(process.env.BENCH_SECONDS ?? 3) * 1000;
const WARMUP_OPS = 100;
const CONCURRENCIES = [1, 32];
/** Generous: the bench measures, it should not retry or time out. */
const CALLS = { timeoutMs: 30_000, maxAttempts: 1, retryBaseDelayMs: 1 };

interface Written {
  target: SecretTarget;
  versionId: string;
}

interface PhaseResult {
  perSecond: number;
  latenciesMs: number[];
  errors: number;
}

/** Runs `op` from `concurrency` workers for PHASE_MS; each call's latency is measured on its own. */
async function phase(concurrency: number, op: (i: number) => Promise<void>, maxOps = Infinity): Promise<PhaseResult> {
  const latenciesMs: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + PHASE_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && next < maxOps) {
        const i = next++;
        const t0 = performance.now();
        try {
          await op(i);
          latenciesMs.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  return { perSecond: latenciesMs.length / elapsedS, latenciesMs: latenciesMs.sort((a, b) => a - b), errors };
}

function newTarget(): SecretTarget {
  return { credentialId: randomUUID(), agentId: randomUUID(), ownerId: randomUUID(), environment: 'production' };
}

async function benchStore(name: string, store: SecretStore): Promise<void> {
  const written: Written[] = [];
  const write = async () => {
    const target = newTarget();
    const secret = `agk_live_${randomBytes(32).toString('base64url')}`;
    const stored = await store.writeVersion({ target, version: 1, requestToken: target.credentialId, secret });
    written.push({ target, versionId: stored.versionId });
  };
  for (let i = 0; i < WARMUP_OPS; i++) await write();

  let errors = 0;
  for (const c of CONCURRENCIES) {
    const writes = await phase(c, write);
    figure(`${name}_write_per_s_c${c}`, writes.perSecond, '/s');
    figure(`${name}_write_p50_c${c}`, percentile(writes.latenciesMs, 50), 'ms');
    figure(`${name}_write_p99_c${c}`, percentile(writes.latenciesMs, 99), 'ms');
    errors += writes.errors;
  }
  for (const c of CONCURRENCIES) {
    const reads = await phase(c, async (i) => {
      const w = written[i % written.length];
      await store.readVersion(w.target, w.versionId);
    });
    figure(`${name}_read_per_s_c${c}`, reads.perSecond, '/s');
    figure(`${name}_read_p50_c${c}`, percentile(reads.latenciesMs, 50), 'ms');
    figure(`${name}_read_p99_c${c}`, percentile(reads.latenciesMs, 99), 'ms');
    errors += reads.errors;
  }
  figure(`${name}_errors`, errors, 'calls');
}

/** The doubles in a child process: this file run with `--doubles`. */
async function serveDoubles(): Promise<void> {
  const { VaultDouble } = await import('../test/doubles/vault-double');
  const { AwsSecretsManagerDouble } = await import('../test/doubles/aws-secrets-manager-double');
  const vault = await new VaultDouble().start();
  const aws = await new AwsSecretsManagerDouble().start();
  process.stdout.write(`${JSON.stringify({ vault: vault.url, vaultToken: vault.rootToken, aws: aws.url })}\n`);
  process.on('SIGTERM', () => void Promise.all([vault.stop(), aws.stop()]).then(() => process.exit(0)));
}

function startDoubles(): Promise<{ child: ChildProcess } & { vault: string; vaultToken: string; aws: string }> {
  return startOwnChild(__filename, '--doubles');
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const database = await freshDatabase('agc_bench_stores');
  const dataSource = await new DataSource({ ...dataSourceOptions(database.url, 40), entities: [LocalSecretVersionEntity] }).initialize();
  const doubles = await startDoubles();
  const vault = new VaultSecretStore(
    { address: doubles.vault, token: doubles.vaultToken, mount: 'secret', maxVersions: 20, ...CALLS },
    new SystemClock(),
  );
  const aws = new AwsSecretsManagerStore({
    region: 'us-east-1',
    endpoint: doubles.aws,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    ...CALLS,
  });
  try {
    const localConfig = { secretStores: { local: { key: randomBytes(32) } } } as unknown as AppConfig;
    await benchStore('local', new LocalSecretStore(dataSource, new SystemClock(), localConfig));
    await benchStore('vault', vault);
    await benchStore('aws', aws);
  } finally {
    vault.close();
    aws.close();
    doubles.child.kill('SIGTERM');
    await dataSource.destroy();
    await database.drop();
  }
}

runMain(main, { flag: '--doubles', serve: serveDoubles });
