import { randomUUID } from 'node:crypto';

import { DataSource } from 'typeorm';

import { dataSourceOptions } from '../../src/common/db/data-source-options';
import { OutboxEventsRepository } from '../../src/gateways/outbox-events.repository';
import { createTestDatabase, dropTestDatabase } from '../support/test-db';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The outbox draws each delivery's id in its INSERT as a time-ordered UUID
 * (v7), so a bulk chunk's ten thousand rows go to the right edge of the
 * primary key's index instead of random pages (docs/delivery.md).
 */
describe('deliveries written by the outbox have time-ordered ids', () => {
  let db: { name: string; url: string };
  let dataSource: DataSource;
  const repository = new OutboxEventsRepository();

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, 2)).initialize();
    for (let i = 0; i < 3; i++) {
      await dataSource.query(
        `INSERT INTO gateways (id, name, url, environments, status, signing_secret, created_at, updated_at)
         VALUES ($1, $2, 'http://127.0.0.1:9/events', ARRAY['production'], 'active', '"whsec_x"', now(), now())`,
        [randomUUID(), `ordered-${i}`],
      );
    }
  });

  afterAll(async () => {
    await dataSource.destroy();
    await dropTestDatabase(db.name);
  });

  async function write(events: number): Promise<string[]> {
    return dataSource.transaction(async (em) => {
      const rows = await repository.insertWithGatewayDeliveries(
        em,
        Array.from({ length: events }, () => ({
          id: randomUUID(),
          type: 'credential.revoked' as const,
          credentialId: randomUUID(),
          environment: 'production' as const,
          payload: '{"type":"credential.revoked"}',
        })),
        new Date(),
      );
      return rows.map((r) => r.id!);
    });
  }

  it('each id is a UUIDv7, and a later statement sorts after an earlier one', async () => {
    const first = await write(50);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await write(50);
    expect(first).toHaveLength(150);
    for (const id of [...first, ...second]) expect(id).toMatch(UUID_V7);
    expect(new Set([...first, ...second]).size).toBe(300);
    // The first 48 bits are the millisecond the row was written.
    const ms = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(Math.max(...first.map(ms))).toBeLessThan(Math.min(...second.map(ms)));
    expect(Math.abs(ms(first[0]) - Date.now())).toBeLessThan(60_000);
  });
});
