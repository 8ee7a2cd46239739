import { randomUUID } from 'node:crypto';

import { DataSource } from 'typeorm';

import { dataSourceOptions } from '../../src/common/db/data-source-options';
import { OutboxEventsRepository } from '../../src/gateways/outbox-events.repository';
import { createTestDatabase, dropTestDatabase } from '../support/test-db';

/**
 * A delivery's event and gateway are not foreign keys (each was checked per
 * row on every insert); what those keys kept is kept by the rule that neither
 * an event nor a gateway is ever deleted, which the database enforces for
 * every DELETE and TRUNCATE, referenced or not
 * (migrations/1796570231230-DeliveriesWithoutForeignKeys.ts).
 */
describe('the rows deliveries name are never deleted', () => {
  let db: { name: string; url: string };
  let dataSource: DataSource;
  const repository = new OutboxEventsRepository();
  const gatewayIds: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, 2)).initialize();
    for (const [i, environment] of ['production', 'production', 'sandbox'].entries()) {
      const id = randomUUID();
      gatewayIds.push(id);
      await dataSource.query(
        `INSERT INTO gateways (id, name, url, environments, status, signing_secret, created_at, updated_at)
         VALUES ($1, $2, 'http://127.0.0.1:9/events', ARRAY[$3], 'active', '"whsec_x"', now(), now())`,
        [id, `parents-${i}`, environment],
      );
    }
  });

  afterAll(async () => {
    await dataSource.destroy();
    await dropTestDatabase(db.name);
  });

  const refusal = { code: '23001', message: expect.stringMatching(/never deleted/) };

  async function refused(sql: string, params: unknown[] = []): Promise<unknown> {
    return dataSource.query(sql, params).then(
      () => null,
      (error: { code?: string; message: string }) => ({ code: error.code, message: error.message }),
    );
  }

  it('refuses to delete or truncate gateways and events, with or without deliveries naming them', async () => {
    const eventId = randomUUID();
    const written = await dataSource.transaction((em) =>
      repository.insertWithGatewayDeliveries(
        em,
        [{ id: eventId, type: 'credential.revoked', credentialId: randomUUID(), environment: 'production', payload: '{}' }],
        new Date(),
      ),
    );
    expect(written.map((d) => d.gatewayId).sort()).toEqual(gatewayIds.slice(0, 2).sort());

    // Named by a delivery (what ON DELETE RESTRICT refused) and not (the sandbox gateway got nothing).
    expect(await refused('DELETE FROM gateways WHERE id = $1', [gatewayIds[0]])).toEqual(refusal);
    expect(await refused('DELETE FROM gateways WHERE id = $1', [gatewayIds[2]])).toEqual(refusal);
    expect(await refused('DELETE FROM outbox_events WHERE id = $1', [eventId])).toEqual(refusal);
    expect(await refused('TRUNCATE gateways CASCADE')).toEqual(refusal);
    expect(await refused('TRUNCATE outbox_events CASCADE')).toEqual(refusal);

    const [counts] = await dataSource.query(
      `SELECT (SELECT count(*)::int FROM gateways) AS gateways, (SELECT count(*)::int FROM outbox_events) AS events,
              (SELECT count(*)::int FROM deliveries d WHERE EXISTS (SELECT 1 FROM outbox_events e WHERE e.id = d.event_id)
                                                       AND EXISTS (SELECT 1 FROM gateways g WHERE g.id = d.gateway_id)) AS named`,
    );
    expect(counts).toEqual({ gateways: 3, events: 1, named: 2 });
  });
});
