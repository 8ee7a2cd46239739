import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the job sweep, which every few seconds reads the rows that say
 * work is due (JobSweeper): each kind is read in (due time, id) order after
 * the last page's end, so a page is one range scan of the due rows only,
 * however many rows wait on a backoff or a grace period.
 *
 * - deliveries: pending deliveries by next attempt (new; the sweep used to
 *   read every pending delivery, due or not, through deliveries_pending_idx,
 *   which stays for the backlog metrics);
 * - rotations: running ones by last update, completed unretired ones by
 *   grace end, now with the id as a tie-breaker;
 * - revocation_credentials: pending destructions by next attempt, with the
 *   credential id.
 */
export class JobSweepIndexes1795462400000 implements MigrationInterface {
  name = 'JobSweepIndexes1795462400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "deliveries_pending_due_idx" ON "deliveries" ("next_attempt_at", "id") WHERE status = 'pending'`);
    await queryRunner.query(`DROP INDEX "public"."rotations_running_idx"`);
    await queryRunner.query(`CREATE INDEX "rotations_running_idx" ON "rotations" ("updated_at", "id") WHERE status = 'running'`);
    await queryRunner.query(`DROP INDEX "public"."rotations_retire_due_idx"`);
    await queryRunner.query(
      `CREATE INDEX "rotations_retire_due_idx" ON "rotations" ("grace_ends_at", "id") WHERE status = 'completed' AND retired_at IS NULL`,
    );
    await queryRunner.query(`DROP INDEX "public"."revocation_credentials_secret_pending_idx"`);
    await queryRunner.query(
      `CREATE INDEX "revocation_credentials_secret_pending_idx" ON "revocation_credentials" ("secret_next_attempt_at", "credential_id") WHERE secret_status = 'pending'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."revocation_credentials_secret_pending_idx"`);
    await queryRunner.query(
      `CREATE INDEX "revocation_credentials_secret_pending_idx" ON "revocation_credentials" ("secret_next_attempt_at") WHERE secret_status = 'pending'`,
    );
    await queryRunner.query(`DROP INDEX "public"."rotations_retire_due_idx"`);
    await queryRunner.query(
      `CREATE INDEX "rotations_retire_due_idx" ON "rotations" ("grace_ends_at") WHERE status = 'completed' AND retired_at IS NULL`,
    );
    await queryRunner.query(`DROP INDEX "public"."rotations_running_idx"`);
    await queryRunner.query(`CREATE INDEX "rotations_running_idx" ON "rotations" ("updated_at") WHERE status = 'running'`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_pending_due_idx"`);
  }
}
