import { MigrationInterface, QueryRunner } from 'typeorm';

export class Rotations1795454596356 implements MigrationInterface {
  name = 'Rotations1795454596356';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "rotations" ("id" uuid NOT NULL, "credential_id" uuid NOT NULL, "owner_id" uuid NOT NULL, "secret_store" text NOT NULL, "secret_target" jsonb NOT NULL, "trigger" text NOT NULL, "immediate" boolean NOT NULL, "reason" text, "requested_by" text NOT NULL, "step" text NOT NULL, "status" text NOT NULL, "from_version" integer NOT NULL, "from_version_id" text NOT NULL, "to_version" integer NOT NULL, "new_version_id" text, "new_secret_sha256" text, "new_secret_ref" text, "attempts" integer NOT NULL, "error" text, "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "published_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "failed_at" TIMESTAMP WITH TIME ZONE, "grace_ends_at" TIMESTAMP WITH TIME ZONE, "retired_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "rotations_published_check" CHECK (step = 'pending' OR (new_version_id IS NOT NULL AND new_secret_sha256 IS NOT NULL AND grace_ends_at IS NOT NULL)), CONSTRAINT "rotations_completed_check" CHECK ((status = 'completed') = (step IN ('promoted', 'retired')) AND (status <> 'completed' OR completed_at IS NOT NULL)), CONSTRAINT "rotations_versions_check" CHECK (to_version = from_version + 1), CONSTRAINT "rotations_secret_store_check" CHECK (secret_store IN ('local', 'vault', 'aws')), CONSTRAINT "rotations_trigger_check" CHECK (trigger IN ('scheduled', 'manual')), CONSTRAINT "rotations_status_check" CHECK (status IN ('running', 'completed', 'failed')), CONSTRAINT "rotations_step_check" CHECK (step IN ('pending', 'published', 'verified', 'promoted', 'retired')), CONSTRAINT "PK_5a7a0bdcb317671fa616b21f982" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "rotations_retire_due_idx" ON "rotations" ("grace_ends_at") WHERE status = 'completed' AND retired_at IS NULL`,
    );
    await queryRunner.query(`CREATE INDEX "rotations_running_idx" ON "rotations" ("updated_at") WHERE status = 'running'`);
    await queryRunner.query(`CREATE INDEX "rotations_created_idx" ON "rotations" ("created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "rotations_status_created_idx" ON "rotations" ("status", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "rotations_credential_created_idx" ON "rotations" ("credential_id", "created_at", "id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "rotations_one_running_key" ON "rotations" ("credential_id") WHERE status = 'running'`);
    await queryRunner.query(`CREATE UNIQUE INDEX "rotations_credential_version_key" ON "rotations" ("credential_id", "to_version") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."rotations_credential_version_key"`);
    await queryRunner.query(`DROP INDEX "public"."rotations_one_running_key"`);
    await queryRunner.query(`DROP INDEX "public"."rotations_credential_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."rotations_status_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."rotations_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."rotations_running_idx"`);
    await queryRunner.query(`DROP INDEX "public"."rotations_retire_due_idx"`);
    await queryRunner.query(`DROP TABLE "rotations"`);
  }
}
