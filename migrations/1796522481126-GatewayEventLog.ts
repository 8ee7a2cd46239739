import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event log the gateway sync routes replay (src/gateways/gateway-sync.repository.ts):
 * `outbox_events.log_position`, a gap-free position assigned in commit order.
 * `seq` is taken when an event is inserted, so a transaction that started
 * earlier can commit an event with a smaller `seq` after a reader has moved
 * past it; a position is given only to events already committed, one
 * sequencer at a time (under an advisory lock), so a reader that has seen
 * position N will never see a new event at or below N. Events already written
 * get their positions here, in `seq` order.
 */
export class GatewayEventLog1796522481126 implements MigrationInterface {
  name = 'GatewayEventLog1796522481126';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "outbox_events" ADD "log_position" bigint`);
    await queryRunner.query(
      `UPDATE "outbox_events" e SET "log_position" = n.position
         FROM (SELECT id, row_number() OVER (ORDER BY seq) AS position FROM "outbox_events") n
        WHERE e.id = n.id`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "outbox_events_log_position_key" ON "outbox_events" ("log_position")`);
    await queryRunner.query(`CREATE INDEX "outbox_events_unsequenced_idx" ON "outbox_events" ("seq") WHERE "log_position" IS NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "outbox_events_unsequenced_idx"`);
    await queryRunner.query(`DROP INDEX "outbox_events_log_position_key"`);
    await queryRunner.query(`ALTER TABLE "outbox_events" DROP COLUMN "log_position"`);
  }
}
