import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * deliveries_gateway_pending_idx (a gateway's pending deliveries in event order, what a drain's
 * batch read scans) gains `next_attempt_at IS NOT NULL` in its predicate. The column is NOT NULL,
 * so the index holds the same rows, and every read that wants it (the batch read, wakeWaiting) has a
 * condition on next_attempt_at that implies it. The chain-order probe (src/gateways/deliveries.repository.ts,
 * EARLIER_PENDING) has none, so the planner can no longer pick this index for it: with statistics that
 * predate a burst it did, and read every earlier pending delivery of the gateway per candidate instead
 * of the credential's one or two through deliveries_chain_idx (docs/delivery.md, "The chain-head read").
 */
export class ChainProbeIndex1796537322396 implements MigrationInterface {
  name = 'ChainProbeIndex1796537322396';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."deliveries_gateway_pending_idx"`);
    await queryRunner.query(
      `CREATE INDEX "deliveries_gateway_pending_idx" ON "deliveries" ("gateway_id", "event_seq") WHERE status = 'pending' AND next_attempt_at IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."deliveries_gateway_pending_idx"`);
    await queryRunner.query(
      `CREATE INDEX "deliveries_gateway_pending_idx" ON "deliveries" ("gateway_id", "event_seq") WHERE status = 'pending'`,
    );
  }
}
