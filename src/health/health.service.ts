import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { pingDatabase } from '../common/db/ping';
import { JobQueues } from '../common/jobs/job-queues';
import { SecretStoreRegistry } from '../secret-stores/secret-store.registry';

export interface CheckResult {
  status: 'up' | 'down';
  error?: string;
}

export interface Readiness {
  status: 'ok' | 'unavailable';
  checks: Record<string, CheckResult>;
}

const CHECK_TIMEOUT_MS = 2000;

@Injectable()
export class HealthService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobQueues,
    private readonly stores: SecretStoreRegistry,
  ) {}

  async readiness(): Promise<Readiness> {
    const checks: Array<[string, () => Promise<unknown>]> = [
      ['database', () => pingDatabase(this.dataSource)],
      ['redis', () => this.jobs.redis().ping()],
      ...this.stores.all().map((store): [string, () => Promise<unknown>] => [`store:${store.name}`, () => store.checkHealth()]),
    ];
    const results = await Promise.all(checks.map(async ([name, check]) => [name, await probe(check)] as const));
    const byName = Object.fromEntries(results);
    return { status: results.every(([, r]) => r.status === 'up') ? 'ok' : 'unavailable', checks: byName };
  }
}

async function probe(check: () => Promise<unknown>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'up' };
  } catch (error) {
    return { status: 'down', error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
