import { randomUUID } from 'node:crypto';

import { DataSource } from 'typeorm';

import { Clock } from '../../src/common/clock/clock';
import { dataSourceOptions } from '../../src/common/db/data-source-options';
import { JobQueues } from '../../src/common/jobs/job-queues';
import { CryptoRandomSource } from '../../src/common/random/random-source';
import { AppConfig } from '../../src/config/app-config';
import { DeliveriesRepository, DeliveryOutcome } from '../../src/gateways/deliveries.repository';
import { DeliveryProcessor, ReadAhead } from '../../src/gateways/delivery.processor';
import { DeliveryMetrics } from '../../src/gateways/delivery-metrics';
import { DeliveryQueue } from '../../src/gateways/delivery-queue';
import { GatewaysService } from '../../src/gateways/gateways.service';
import { WebhookRequest, WebhookResult, WebhookSender } from '../../src/gateways/webhook-sender';
import { createTestDatabase, dropTestDatabase } from '../support/test-db';

/**
 * A drain reads its next round while the current round's requests are in
 * flight (docs/delivery.md, "Reading ahead"). The read ahead leaves the round
 * in flight out, and the next delivery of a chain in that round is not a head
 * until the round's outcomes are recorded: order per credential holds.
 */
describe('a drain reads its next round while the current one is in flight', () => {
  let db: { name: string; url: string };
  let dataSource: DataSource;
  let repository: DeliveriesRepository;
  let gatewayId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, 5)).initialize();
    repository = new DeliveriesRepository(dataSource);
  });

  beforeEach(async () => {
    gatewayId = randomUUID();
    await dataSource.query(
      `INSERT INTO gateways (id, name, url, environments, status, signing_secret, created_at, updated_at)
       VALUES ($1, $2, 'http://127.0.0.1:9/events', ARRAY['production'], 'active', '"whsec_x"', now(), now())`,
      [gatewayId, `ahead-${gatewayId.slice(0, 8)}`],
    );
  });

  afterAll(async () => {
    await dataSource.destroy();
    await dropTestDatabase(db.name);
  });

  /** Writes events of one credential, in order, each with its pending delivery to the gateway; returns the delivery ids. */
  async function publish(credentialId: string, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const deliveryId = randomUUID();
      await dataSource.query(
        `WITH ev AS (INSERT INTO outbox_events (id, type, credential_id, environment, payload, created_at)
                     VALUES ($1, 'credential.updated', $2, 'production', '{"type":"credential.updated"}', now())
                     RETURNING id, seq, type, credential_id)
         INSERT INTO deliveries (id, event_id, event_seq, event_type, credential_id, target, gateway_id, status,
                                 attempts, retry_step, next_attempt_at, created_at, updated_at)
         SELECT $3, ev.id, ev.seq, ev.type, ev.credential_id, 'gateway', $4, 'pending', 0, 0, now(), now(), now() FROM ev`,
        [randomUUID(), credentialId, deliveryId, gatewayId],
      );
      ids.push(deliveryId);
    }
    return ids;
  }

  function delivered(id: string): DeliveryOutcome {
    return {
      id,
      outcome: 'delivered',
      attempted: true,
      at: new Date(),
      statusCode: 204,
      error: null,
      nextAttemptAt: null,
      fromRetryStep: 0,
    };
  }

  const later = () => new Date(Date.now() + 60_000);

  it('a read leaving the round in flight out gets other chains, never the next of a chain in flight', async () => {
    const [a1, a2] = await publish(randomUUID(), 2);
    const [b1, b2] = await publish(randomUUID(), 2);
    const [c1] = await publish(randomUUID(), 1);
    const [d1] = await publish(randomUUID(), 1);

    const first = await repository.dueBatch(gatewayId, later(), 2);
    expect(first.deliveries.map((d) => d.id)).toEqual([a1, b1]);
    const ahead = await repository.dueBatch(gatewayId, later(), 10, [a1, b1]);
    expect(ahead.deliveries.map((d) => d.id)).toEqual([c1, d1]);
    expect(ahead.gateway?.name).toBe(`ahead-${gatewayId.slice(0, 8)}`);

    await repository.recordOutcomes([delivered(a1), delivered(b1)]);
    const after = await repository.dueBatch(gatewayId, later(), 10, [c1, d1]);
    expect(after.deliveries.map((d) => d.id)).toEqual([a2, b2]);
  });

  it('the drain takes the next round from the read made while its requests were in flight', async () => {
    const [a1, a2] = await publish(randomUUID(), 2);
    const [b1] = await publish(randomUUID(), 1);

    const reads: string[][] = [];
    const dueBatch = repository.dueBatch.bind(repository);
    const spy = jest.spyOn(repository, 'dueBatch').mockImplementation((g, at, limit, exclude = []) => {
      reads.push(exclude);
      return dueBatch(g, at, limit, exclude);
    });
    // Every request waits until released; what the drain read by then is noted.
    const sent: string[] = [];
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let readsWhileInFlight = -1;
    const sender: WebhookSender = {
      async send(request: WebhookRequest): Promise<WebhookResult> {
        sent.push(request.headers['webhook-id']);
        if (readsWhileInFlight < 0) readsWhileInFlight = reads.length;
        await released;
        return { kind: 'response', status: 204, retryAfter: null };
      },
    };
    const clock = { now: () => new Date(Date.now() + 1000) } as unknown as Clock;
    const processor = new DeliveryProcessor(
      {} as JobQueues,
      repository,
      {} as DeliveryQueue,
      { signingKeys: () => [Buffer.alloc(32, 1)], urlProblem: () => null } as unknown as GatewaysService,
      sender,
      { outcome: () => undefined, acknowledged: () => undefined, attempt: () => undefined } as unknown as DeliveryMetrics,
      clock,
      new CryptoRandomSource(),
      { delivery: { timeoutMs: 1000, retryDelaysMs: [1000] }, notify: null } as unknown as AppConfig,
    );
    try {
      const ahead: ReadAhead = { next: null };
      const round = processor.drainOnce(gatewayId, () => clock.now(), ahead);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Both heads in flight, and the next round already being read, without them.
      expect(sent).toHaveLength(2);
      // The read ahead goes out with the round's first request.
      expect(readsWhileInFlight).toBe(2);
      expect(reads).toHaveLength(2);
      expect(reads[1].sort()).toEqual([a1, b1].sort());
      release();
      expect((await round).delivered).toBe(2);
      expect(ahead.next).not.toBeNull();

      // The read ahead found nothing (a2 was not a head yet): the drain reads again and gets a2, in order.
      const second = await processor.drainOnce(gatewayId, () => clock.now(), ahead);
      expect(second.delivered).toBe(1);
      expect(reads).toHaveLength(4);
      const rows: Array<{ id: string; status: string }> = await dataSource.query(
        'SELECT id, status FROM deliveries WHERE gateway_id = $1',
        [gatewayId],
      );
      expect(rows.every((r) => r.status === 'delivered')).toBe(true);
      expect(rows.map((r) => r.id).sort()).toEqual([a1, a2, b1].sort());
    } finally {
      spy.mockRestore();
    }
  });
});
