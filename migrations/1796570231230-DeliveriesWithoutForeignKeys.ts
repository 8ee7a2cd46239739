import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `deliveries` loses its two foreign keys (to `outbox_events` and to `gateways`).
 * They were checked row by row on every insert: a bulk revocation's chunk writes
 * ten thousand deliveries in one statement, and the two checks (one lookup and
 * one row lock on the parent each) took about a third of that statement
 * (docs/delivery.md, "What a delivery costs").
 *
 * What they guarded, and how it still holds:
 * - a delivery names an event and a gateway that exist: deliveries are only
 *   written by src/gateways/outbox-events.repository.ts, in the statement that
 *   writes the event (the event id comes from that INSERT's RETURNING) and from
 *   the gateways it reads in that statement;
 * - neither parent goes away while deliveries name it: nothing in the service
 *   deletes a gateway (a gateway is disabled, never removed) or an event (the
 *   outbox is the log gateways replay, src/gateways/gateway-sync.repository.ts).
 *   The triggers below make that a rule of the database, as the foreign keys
 *   (ON DELETE RESTRICT) did for referenced rows, for every DELETE and TRUNCATE
 *   of either table, whoever asks. They fire per statement, on deletes only:
 *   writing a delivery checks nothing.
 */
export class DeliveriesWithoutForeignKeys1796570231230 implements MigrationInterface {
  name = 'DeliveriesWithoutForeignKeys1796570231230';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_event_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_gateway_id_fkey"`);
    await queryRunner.query(`
      CREATE FUNCTION delivery_parents_kept() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
          RAISE EXCEPTION '% rows are never deleted (deliveries name them): % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'restrict_violation';
      END
      $$`);
    for (const table of ['gateways', 'outbox_events']) {
      await queryRunner.query(
        `CREATE TRIGGER "${table}_never_deleted" BEFORE DELETE OR TRUNCATE ON "${table}" FOR EACH STATEMENT EXECUTE FUNCTION delivery_parents_kept()`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['gateways', 'outbox_events']) {
      await queryRunner.query(`DROP TRIGGER "${table}_never_deleted" ON "${table}"`);
    }
    await queryRunner.query(`DROP FUNCTION delivery_parents_kept()`);
    await queryRunner.query(
      `ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "outbox_events"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_gateway_id_fkey" FOREIGN KEY ("gateway_id") REFERENCES "gateways"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }
}
