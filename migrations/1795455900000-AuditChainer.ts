import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The hash chain moves out of the writers' transactions. Before, every audited
 * transaction took the chain lock and held it through its COMMIT, so all state
 * changes committed one at a time (the revocation benchmark spent most of its
 * time queued there). Now a writer only inserts its events and queues them in
 * `audit_unchained`; the chainer links committed events in batches, under an
 * advisory lock, into the append-only `audit_chain` (seq, prev_hash, hash),
 * with the same formula: hash = sha256(prev_hash || canonical event).
 * Existing links are carried over unchanged.
 */
export class AuditChainer1795455900000 implements MigrationInterface {
  name = 'AuditChainer1795455900000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audit_chain" ("seq" bigint NOT NULL, "event_id" uuid NOT NULL, "prev_hash" text NOT NULL, "hash" text NOT NULL, "chained_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_audit_chain" PRIMARY KEY ("seq"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "audit_chain_event_id_key" ON "audit_chain" ("event_id") `);
    await queryRunner.query(
      `ALTER TABLE "audit_chain" ADD CONSTRAINT "audit_chain_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "audit_events"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `INSERT INTO "audit_chain" ("seq", "event_id", "prev_hash", "hash", "chained_at") SELECT "seq", "id", "prev_hash", "hash", "at" FROM "audit_events"`,
    );

    await queryRunner.query(`DROP FUNCTION audit_append(jsonb)`);
    await queryRunner.query(`DROP INDEX "public"."audit_events_seq_key"`);
    await queryRunner.query(`ALTER TABLE "audit_events" DROP COLUMN "seq", DROP COLUMN "prev_hash", DROP COLUMN "hash"`);
    await queryRunner.query(`ALTER TABLE "audit_events" ADD "created_seq" bigint GENERATED ALWAYS AS IDENTITY NOT NULL`);
    await queryRunner.query(`CREATE UNIQUE INDEX "audit_events_created_seq_key" ON "audit_events" ("created_seq") `);

    await queryRunner.query(
      `CREATE TABLE "audit_unchained" ("event_id" uuid NOT NULL, "created_seq" bigint NOT NULL, CONSTRAINT "PK_audit_unchained" PRIMARY KEY ("event_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "audit_unchained_created_seq_idx" ON "audit_unchained" ("created_seq") `);

    // The chain is append-only too.
    await queryRunner.query(
      `CREATE TRIGGER audit_chain_no_update_delete BEFORE UPDATE OR DELETE ON "audit_chain" FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON "audit_chain" FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`,
    );
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
          RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
  }

  public async down(): Promise<void> {
    // The chain cannot be folded back into audit_events without rewriting append-only rows.
    throw new Error('AuditChainer cannot be reverted');
  }
}
