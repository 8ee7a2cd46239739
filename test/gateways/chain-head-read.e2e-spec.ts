import { randomUUID } from 'node:crypto';

import { DataSource } from 'typeorm';

import { dataSourceOptions } from '../../src/common/db/data-source-options';
import { DeliveriesRepository } from '../../src/gateways/deliveries.repository';
import { createTestDatabase, dropTestDatabase } from '../support/test-db';

interface PlanNode {
  'Node Type': string;
  'Join Type'?: string;
  'Relation Name'?: string;
  Alias?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/**
 * A drain's batch read checks each candidate's chain with one index probe by
 * (gateway, credential): docs/delivery.md, "The chain-head read". On a
 * freshly written deliveries table (no statistics, as after a mass revocation
 * into a new or mostly delivered table) the planner used to turn that check
 * into an anti-join by gateway alone, or probe the event-order index, reading
 * every earlier pending delivery of the gateway per candidate. This test
 * writes such a backlog without ANALYZE and looks at the executed plan.
 */
describe('the batch read over a burst of pending deliveries', () => {
  let db: { name: string; url: string };
  let dataSource: DataSource;
  let repository: DeliveriesRepository;
  const gateways = Array.from({ length: 10 }, () => randomUUID());

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, 5)).initialize();
    repository = new DeliveriesRepository(dataSource);
    for (const id of gateways) {
      await dataSource.query(
        `INSERT INTO gateways (id, name, url, environments, status, signing_secret, created_at, updated_at)
         VALUES ($1, $2, 'http://127.0.0.1:9/events', ARRAY['production'], 'active', '"whsec_x"', now(), now())`,
        [id, `g-${id.slice(0, 8)}`],
      );
    }
    // 2,000 credentials, each revoked after an earlier event still pending: 4,000 events, 40,000 deliveries, as
    // two bulk chunks write them (event order: every credential's first event, then every second).
    await dataSource.query(
      `WITH c AS (SELECT gen_random_uuid() AS id, n FROM generate_series(1, 2000) n),
            ev AS (INSERT INTO outbox_events (id, type, credential_id, environment, payload, created_at)
                   SELECT gen_random_uuid(), t.type, c.id, 'production', '{}', now()
                     FROM (VALUES (1, 'credential.issued'), (2, 'credential.revoked')) t(k, type), c
                    ORDER BY t.k, c.n
                   RETURNING id, seq, type, credential_id)
       INSERT INTO deliveries (id, event_id, event_seq, event_type, credential_id, target, gateway_id, status,
                               attempts, retry_step, next_attempt_at, created_at, updated_at)
       SELECT gen_random_uuid(), ev.id, ev.seq, ev.type, ev.credential_id, 'gateway', g, 'pending', 0, 0, now(), now(), now()
         FROM ev, unnest($1::uuid[]) g`,
      [gateways],
    );
  });

  afterAll(async () => {
    await dataSource.destroy();
    await dropTestDatabase(db.name);
  });

  it('probes each candidate chain by credential through deliveries_chain_idx, never by gateway alone', async () => {
    const [plan] = (await repository.explainDueBatch(gateways, new Date(Date.now() + 60_000), 500)) as Array<{ Plan: PlanNode }>;
    const all = nodes(plan.Plan);
    expect(all.filter((n) => n['Join Type'] === 'Anti')).toEqual([]);
    const probes = all.filter((n) => n.Alias?.startsWith('p') && n['Relation Name'] === 'deliveries' && (n['Actual Loops'] ?? 0) > 0);
    expect(probes.length).toBeGreaterThan(0);
    for (const probe of probes) {
      expect(probe['Index Name']).toBe('deliveries_chain_idx');
      expect(probe['Index Cond']).toContain('credential_id = d.credential_id');
    }
  });

  it('returns each gateway its first 500 chain heads in event order, none behind an earlier pending event', async () => {
    const batches = await Promise.all(gateways.map((g) => repository.dueBatch(g, new Date(Date.now() + 60_000), 500)));
    for (const batch of batches) {
      expect(batch.deliveries).toHaveLength(500);
      expect(batch.deliveries.every((d) => d.eventType === 'credential.issued')).toBe(true);
      expect(new Set(batch.deliveries.map((d) => d.credentialId)).size).toBe(500);
    }
  });
});
