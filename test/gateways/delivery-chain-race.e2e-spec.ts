import { randomUUID } from 'node:crypto';

import { DataSource } from 'typeorm';

import { dataSourceOptions } from '../../src/common/db/data-source-options';
import { DeliveriesRepository, DeliveryOutcome } from '../../src/gateways/deliveries.repository';
import { createTestDatabase, dropTestDatabase } from '../support/test-db';

/**
 * One credential's deliveries to one gateway form a chain: a delivery waits
 * while an earlier one is pending, and the gateway's drain reads chain heads
 * only. These tests replay, on a real Postgres, the interleaving in which an
 * event is published while the earlier delivery's finish is in flight: the
 * finishing statement's snapshot predates the new event. The drain's next
 * read must still return the new delivery as the chain's head (its wake is
 * the publisher's, after its commit), not leave it for the outbox sweep.
 */
describe('delivery chains: an event published while the previous delivery finishes', () => {
  let db: { name: string; url: string };
  let dataSource: DataSource;
  let repository: DeliveriesRepository;
  let gatewayId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, 5)).initialize();
    repository = new DeliveriesRepository(dataSource);
    gatewayId = randomUUID();
    await dataSource.query(
      `INSERT INTO gateways (id, name, url, environments, status, signing_secret, created_at, updated_at)
       VALUES ($1, 'race', 'http://127.0.0.1:9/events', ARRAY['production'], 'active', '"whsec_x"', now(), now())`,
      [gatewayId],
    );
  });

  afterAll(async () => {
    await dataSource.destroy();
    await dropTestDatabase(db.name);
  });

  /** Writes an event and its pending delivery to the gateway, as the outbox does; returns the delivery id. */
  async function publish(runner: { query: DataSource['query'] }, credentialId: string, type: string): Promise<string> {
    const eventId = randomUUID();
    const deliveryId = randomUUID();
    await runner.query(
      `WITH ev AS (INSERT INTO outbox_events (id, type, credential_id, environment, payload, created_at)
                   VALUES ($1, $2, $3, 'production', '{}', now()) RETURNING id, seq, type, credential_id)
       INSERT INTO deliveries (id, event_id, event_seq, event_type, credential_id, target, gateway_id, status,
                               attempts, retry_step, next_attempt_at, created_at, updated_at)
       SELECT $4, ev.id, ev.seq, ev.type, ev.credential_id, 'gateway', $5, 'pending', 0, 0, now(), now(), now() FROM ev`,
      [eventId, type, credentialId, deliveryId, gatewayId],
    );
    return deliveryId;
  }

  /**
   * Holds a lock on the first delivery's row, starts `finish` (whose statement
   * takes its snapshot, then waits for the lock), commits a later event while
   * it waits, then lets it go.
   */
  async function raceFinish(finish: (firstId: string) => Promise<unknown>): Promise<{ next: { id: string } | null; laterId: string }> {
    const credentialId = randomUUID();
    const firstId = await publish(dataSource, credentialId, 'credential.issued');
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      await holder.query('SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE', [firstId]);
      const finishing = finish(firstId);
      await waitUntilBlocked();
      const laterId = await publish(dataSource, credentialId, 'credential.revoked');
      await holder.commitTransaction();
      await finishing;
      return { next: await nextHead(credentialId), laterId };
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
  }

  /** The drain's next read of the gateway: the due chain head of this credential in it. */
  async function nextHead(credentialId: string): Promise<{ id: string } | null> {
    const { deliveries } = await repository.dueBatch(gatewayId, new Date(Date.now() + 60_000), 100);
    return deliveries.find((d) => d.credentialId === credentialId) ?? null;
  }

  /** The outcome a drain records for an acknowledged or finally failed delivery. */
  function outcome(id: string, kind: 'delivered' | 'failed'): DeliveryOutcome {
    return { id, outcome: kind, attempted: true, at: new Date(), statusCode: 204, error: null, nextAttemptAt: null, fromRetryStep: 0 };
  }

  /** Until a statement of ours waits on a row lock. */
  async function waitUntilBlocked(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const [{ waiting }] = await dataSource.query(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (waiting > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the finishing statement never waited for the row lock');
  }

  it('an acknowledgement hands over the delivery published while it was in flight', async () => {
    const { next, laterId } = await raceFinish((firstId) => repository.recordOutcomes([outcome(firstId, 'delivered')]));
    expect(next?.id).toBe(laterId);
  });

  it('a final failure hands it over too', async () => {
    const { next, laterId } = await raceFinish((firstId) => repository.recordOutcomes([outcome(firstId, 'failed')]));
    expect(next?.id).toBe(laterId);
  });

  it('hands over nothing when the chain has nothing after the finished delivery', async () => {
    const credentialId = randomUUID();
    const only = await publish(dataSource, credentialId, 'credential.issued');
    await repository.recordOutcomes([outcome(only, 'delivered')]);
    expect(await nextHead(credentialId)).toBeNull();
  });
});
