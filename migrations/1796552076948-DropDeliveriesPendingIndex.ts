import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * deliveries_pending_idx (created_at, id) WHERE status = 'pending' repeats the pending part of
 * deliveries_status_created_idx (status, created_at, id): every read that wants pending deliveries by
 * creation (the backlog gauge, DeliveriesRepository.backlog; a list filtered by status) is served by the
 * latter, and the job sweep reads pending deliveries through deliveries_pending_due_idx. Every delivery
 * written, and every retry recorded, paid for one more index entry (ten per revocation to ten gateways).
 */
export class DropDeliveriesPendingIndex1796552076948 implements MigrationInterface {
  name = 'DropDeliveriesPendingIndex1796552076948';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."deliveries_pending_idx"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "deliveries_pending_idx" ON "deliveries" ("created_at", "id") WHERE status = 'pending'`);
  }
}
