import { randomUUID } from 'node:crypto';

import { DataSource } from 'typeorm';

import { dataSourceOptions } from '../../src/common/db/data-source-options';
import { DeliveriesRepository } from '../../src/gateways/deliveries.repository';
import { DeliveryEntity, DeliveryStatus } from '../../src/gateways/entities/delivery.entity';
import { createTestDatabase, dropTestDatabase } from '../support/test-db';

/**
 * The delivery lists (`GET /v1/deliveries?status=&gatewayId=`,
 * `GET /v1/gateways/:id/deliveries`) read settled deliveries through indexes
 * that hold settled rows only, and pending ones through the pending indexes
 * (migrations/1796571097246-SettledDeliveryIndexes.ts): every filter still
 * pages through exactly its rows, newest first, and no list reads the table
 * whole.
 */
describe('delivery lists over settled and pending deliveries', () => {
  let db: { name: string; url: string };
  let dataSource: DataSource;
  let repository: DeliveriesRepository;
  const gateways = [randomUUID(), randomUUID()];
  const rows: Array<{ id: string; gatewayId: string; status: DeliveryStatus; createdAt: Date }> = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource({ ...dataSourceOptions(db.url, 2), entities: [DeliveryEntity] }).initialize();
    repository = new DeliveriesRepository(dataSource);
    for (const [i, id] of gateways.entries()) {
      await dataSource.query(
        `INSERT INTO gateways (id, name, url, environments, status, signing_secret, created_at, updated_at)
         VALUES ($1, $2, 'http://127.0.0.1:9/events', ARRAY['production'], 'active', '"whsec_x"', now(), now())`,
        [id, `lists-${i}`],
      );
    }
    // 60 events to both gateways; some created in the same millisecond (the id breaks the tie); states mixed.
    const statuses: DeliveryStatus[] = ['delivered', 'pending', 'failed', 'delivered', 'pending'];
    const start = Date.parse('2026-01-01T00:00:00Z');
    for (let e = 0; e < 60; e++) {
      const eventId = randomUUID();
      const createdAt = new Date(start + Math.floor(e / 3) * 1000);
      await dataSource.query(
        `INSERT INTO outbox_events (id, type, credential_id, environment, payload, created_at)
         VALUES ($1, 'credential.revoked', $2, 'production', '{}', $3)`,
        [eventId, randomUUID(), createdAt],
      );
      for (const [g, gatewayId] of gateways.entries()) {
        const row = { id: randomUUID(), gatewayId, status: statuses[(e + g * 2) % statuses.length], createdAt };
        rows.push(row);
        await dataSource.query(
          `INSERT INTO deliveries (id, event_id, event_seq, event_type, credential_id, target, gateway_id, status, attempts,
                                   retry_step, next_attempt_at, created_at, updated_at)
           SELECT $1, e.id, e.seq, e.type, e.credential_id, 'gateway', $2, $3, 0, 0, $4, $4, $4 FROM outbox_events e WHERE e.id = $5`,
          [row.id, gatewayId, row.status, createdAt, eventId],
        );
      }
    }
    await dataSource.query('ANALYZE deliveries');
  });

  afterAll(async () => {
    await dataSource.destroy();
    await dropTestDatabase(db.name);
  });

  /** Every page of a list, followed by its cursor. */
  async function pages(query: { gatewayId?: string; status?: DeliveryStatus }, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let n = 0; n <= rows.length; n++) {
      const page = await repository.list({ ...query, limit, cursor });
      expect(page.items.length).toBeLessThanOrEqual(limit);
      ids.push(...page.items.map((d) => d.id));
      if (!page.nextCursor) return ids;
      cursor = page.nextCursor;
    }
    throw new Error('the list did not end');
  }

  function expected(query: { gatewayId?: string; status?: DeliveryStatus }): string[] {
    return rows
      .filter((r) => (!query.gatewayId || r.gatewayId === query.gatewayId) && (!query.status || r.status === query.status))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map((r) => r.id);
  }

  it('pages through exactly the filtered rows, newest first, across settled and pending ones', async () => {
    const queries = [
      {},
      { gatewayId: gateways[0] },
      { gatewayId: gateways[1] },
      ...(['pending', 'delivered', 'failed'] as const).flatMap((status) => [{ status }, { status, gatewayId: gateways[1] }]),
    ];
    for (const query of queries) {
      for (const limit of [1, 7, 50]) expect(await pages(query, limit)).toEqual(expected(query));
    }
    expect(expected({ gatewayId: gateways[0], status: 'pending' }).length).toBeGreaterThan(0);
  });

  it('reads settled rows through the settled indexes and pending ones through a pending index', async () => {
    // With whole-table and bitmap reads priced out (a table this small is read whole otherwise): the index each list can read in order.
    const plan = (where: string, params: unknown[]): Promise<string> =>
      dataSource.transaction(async (em) => {
        await em.query('SET LOCAL enable_seqscan = off');
        await em.query('SET LOCAL enable_bitmapscan = off');
        const lines: Array<{ 'QUERY PLAN': string }> = await em.query(
          `EXPLAIN SELECT * FROM deliveries d WHERE ${where} ORDER BY d.created_at DESC, d.id DESC LIMIT 51`,
          params,
        );
        return lines.map((l) => l['QUERY PLAN']).join('\n');
      });
    expect(await plan('d.status IN ($1)', ['failed'])).toMatch(/Index Scan Backward using deliveries_settled_idx/);
    expect(await plan('d.gateway_id = $1 AND d.status IN ($2, $3)', [gateways[0], 'delivered', 'failed'])).toMatch(
      /Index Scan Backward using deliveries_gateway_settled_idx/,
    );
    expect(await plan('d.gateway_id = $1 AND d.status IN ($2)', [gateways[0], 'pending'])).toMatch(
      /Index Scan using deliveries_(chain|gateway_pending)_idx/,
    );
    expect(await plan('d.status IN ($1)', ['pending'])).toMatch(/Index Scan using deliveries_pending_due_idx/);
  });
});
