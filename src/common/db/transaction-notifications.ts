import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, EntitySubscriberInterface, TransactionCommitEvent, TransactionRollbackEvent } from 'typeorm';

const PENDING = Symbol('pending notifications');

/** Postgres notifications a transaction holds, as two parallel arrays (the parameters of `unnest`). */
export interface HeldNotifications {
  channels: string[];
  payloads: string[];
}

/** The SELECT that sends held notifications, from two text[] parameters (channels, payloads): `$a`, `$b`. */
export function notifySelect(channels: string, payloads: string): string {
  return `SELECT pg_notify(n.channel, n.payload) FROM unnest(${channels}::text[], ${payloads}::text[]) AS n(channel, payload)`;
}

/**
 * Postgres notifications (NOTIFY) sent with a transaction, without a
 * statement of their own when one of the transaction's later statements can
 * carry them. A NOTIFY reaches the listeners when its transaction commits,
 * and never if it rolls back, wherever in the transaction it was sent; so it
 * may wait until the transaction's next statement that takes it along
 * (`take`: the audit append does, src/audit/audit.repository.ts, and every
 * state change writes one), or else it is sent by a statement of its own just
 * before COMMIT. Either way it is sent inside the transaction. Each statement
 * is a round trip the transaction (and every caller waiting on it) waits for.
 */
@Injectable()
export class TransactionNotifications implements EntitySubscriberInterface {
  constructor(@InjectDataSource() dataSource: DataSource) {
    dataSource.subscribers.push(this);
  }

  /** Sends `payloads` on `channel` with `em`'s transaction (at its commit); outside a transaction, now. */
  async send(em: EntityManager, channel: string, payloads: readonly string[]): Promise<void> {
    if (payloads.length === 0) return;
    const runner = em.queryRunner;
    if (!runner?.isTransactionActive) {
      await em.query(notifySelect('$1', '$2'), [payloads.map(() => channel), payloads]);
      return;
    }
    const data = runner.data as { [PENDING]?: HeldNotifications };
    const held = (data[PENDING] ??= { channels: [], payloads: [] });
    for (const payload of payloads) {
      held.channels.push(channel);
      held.payloads.push(payload);
    }
  }

  /**
   * Takes the notifications `em`'s transaction holds, for the caller's next
   * statement to send (`notifySelect`). None inside a savepoint
   * (src/common/db/savepoint.ts): rolled back to, it would take the
   * notifications of the changes outside it along.
   */
  take(em: EntityManager): HeldNotifications | null {
    const runner = em.queryRunner;
    if (!runner?.isTransactionActive || (runner as unknown as { transactionDepth: number }).transactionDepth !== 1) return null;
    return this.takeHeld(runner.data);
  }

  /** What no statement took is sent now, still inside the transaction (at a savepoint's release too: inside it, as it joins the transaction). */
  async beforeTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    const held = this.takeHeld(event.queryRunner.data);
    if (held) await event.queryRunner.query(notifySelect('$1', '$2'), [held.channels, held.payloads]);
  }

  private takeHeld(runnerData: unknown): HeldNotifications | null {
    const data = runnerData as { [PENDING]?: HeldNotifications };
    const held = data[PENDING];
    delete data[PENDING];
    return held ?? null;
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    // The whole transaction rolled back: nothing to send. (A rolled-back savepoint keeps what the transaction
    // holds: at worst a cache entry is dropped for nothing, and reloaded.)
    if (!event.queryRunner.isTransactionActive) delete (event.queryRunner.data as { [PENDING]?: HeldNotifications })[PENDING];
  }
}
