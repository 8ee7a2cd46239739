import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The two indexes that list deliveries newest first, by status
 * (`GET /v1/deliveries?status=`, the dead letters among them) and by gateway
 * (`GET /v1/gateways/:id/deliveries`), now hold settled deliveries only
 * (`delivered`, `failed`). Every delivery is written `pending`, so an insert
 * writes neither (a bulk revocation's chunk writes ten thousand deliveries:
 * twenty thousand index entries fewer); it enters both when it is settled, as
 * it did before (that update changes `status`, so it was never a HOT update).
 *
 * The reads that used them (DeliveriesRepository.list):
 * - by a settled status: the same index scan, through deliveries_settled_idx;
 * - by `status=pending`: the pending rows through deliveries_pending_due_idx,
 *   sorted (the backlog, not the table);
 * - by gateway, every state: the gateway's settled rows through
 *   deliveries_gateway_settled_idx and its pending ones through
 *   deliveries_chain_idx, each newest first, merged.
 * The backlog gauge (DeliveriesRepository.backlog) already read
 * deliveries_pending_due_idx.
 */
export class SettledDeliveryIndexes1796571097246 implements MigrationInterface {
  name = 'SettledDeliveryIndexes1796571097246';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "deliveries_settled_idx" ON "deliveries" ("status", "created_at", "id") WHERE status IN ('delivered', 'failed')`,
    );
    await queryRunner.query(
      `CREATE INDEX "deliveries_gateway_settled_idx" ON "deliveries" ("gateway_id", "created_at", "id") WHERE status IN ('delivered', 'failed')`,
    );
    await queryRunner.query(`DROP INDEX "public"."deliveries_status_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_gateway_created_idx"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "deliveries_status_created_idx" ON "deliveries" ("status", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "deliveries_gateway_created_idx" ON "deliveries" ("gateway_id", "created_at", "id")`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_gateway_settled_idx"`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_settled_idx"`);
  }
}
