import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Delivery drains each gateway's pending deliveries in batches (src/gateways/delivery.processor.ts):
 *
 * - gateways.batch_events: a gateway that opted in receives up to 500 events in one signed request
 *   (docs/delivery.md); false keeps one event per request;
 * - deliveries_gateway_pending_idx: a gateway's pending deliveries in event order, which is the
 *   order a drain reads them in (one range scan per batch, however many other gateways have a backlog).
 */
export class GatewayDrains1796520566842 implements MigrationInterface {
  name = 'GatewayDrains1796520566842';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "gateways" ADD "batch_events" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(
      `CREATE INDEX "deliveries_gateway_pending_idx" ON "deliveries" ("gateway_id", "event_seq") WHERE status = 'pending'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."deliveries_gateway_pending_idx"`);
    await queryRunner.query(`ALTER TABLE "gateways" DROP COLUMN "batch_events"`);
  }
}
