import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, EntitySubscriberInterface, TransactionCommitEvent, TransactionRollbackEvent } from 'typeorm';

const HOOKS = Symbol('after-commit hooks');
type Hook = () => Promise<unknown> | unknown;

/**
 * Runs work once the surrounding transaction has committed, and never if it
 * rolls back: the outbox enqueues its jobs this way, so a job never points at
 * a row that does not exist, and callers need not remember to do it.
 * Hooks run in the background; a failed hook is logged (the sweeps that own
 * the durable rows pick the work up), never surfaced to the committed caller.
 */
@Injectable()
export class AfterCommit implements EntitySubscriberInterface {
  private readonly logger = new Logger(AfterCommit.name);

  constructor(@InjectDataSource() dataSource: DataSource) {
    dataSource.subscribers.push(this);
  }

  /** Registers `hook` to run after the transaction `em` belongs to commits. */
  run(em: EntityManager, hook: Hook): void {
    const runner = em.queryRunner;
    if (!runner?.isTransactionActive) throw new Error('after-commit work must be registered inside a transaction');
    const data = runner.data as { [HOOKS]?: Hook[] };
    (data[HOOKS] ??= []).push(hook);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const runner = event.queryRunner;
    // A released savepoint: the outer transaction can still roll back.
    if (runner.isTransactionActive) return;
    const data = runner.data as { [HOOKS]?: Hook[] };
    const hooks = data[HOOKS];
    delete data[HOOKS];
    for (const hook of hooks ?? []) {
      void Promise.resolve()
        .then(hook)
        .catch((error: unknown) =>
          this.logger.warn({ err: (error as Error).message }, 'after-commit work failed; the sweep will retry it'),
        );
    }
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    if (!event.queryRunner.isTransactionActive) delete (event.queryRunner.data as { [HOOKS]?: Hook[] })[HOOKS];
  }
}
