import { MigrationInterface, QueryRunner } from 'typeorm';

export class Reviews1795454300622 implements MigrationInterface {
  name = 'Reviews1795454300622';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "campaigns" ("id" uuid NOT NULL, "name" text NOT NULL, "status" text NOT NULL, "environment" text, "owner_ids" uuid array, "on_expiry" text NOT NULL, "due_at" TIMESTAMP WITH TIME ZONE NOT NULL, "item_count" integer NOT NULL, "schedule_id" uuid, "schedule_period" integer, "opened_by" text NOT NULL, "closed_at" TIMESTAMP WITH TIME ZONE, "closed_by" text, "close_reason" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "campaigns_schedule_check" CHECK ((schedule_id IS NULL) = (schedule_period IS NULL)), CONSTRAINT "campaigns_closed_check" CHECK ((status = 'closed') = (closed_at IS NOT NULL)), CONSTRAINT "campaigns_close_reason_check" CHECK (close_reason IS NULL OR close_reason IN ('deadline', 'manual')), CONSTRAINT "campaigns_environment_check" CHECK (environment IS NULL OR environment IN ('sandbox', 'production')), CONSTRAINT "campaigns_on_expiry_check" CHECK (on_expiry IN ('revoke', 'keep')), CONSTRAINT "campaigns_status_check" CHECK (status IN ('open', 'closed')), CONSTRAINT "PK_831e3fcd4fc45b4e4c3f57a9ee4" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "campaigns_schedule_period_key" ON "campaigns" ("schedule_id", "schedule_period") WHERE schedule_id IS NOT NULL`,
    );
    await queryRunner.query(`CREATE INDEX "campaigns_due_idx" ON "campaigns" ("due_at") `);
    await queryRunner.query(`CREATE INDEX "campaigns_open_due_idx" ON "campaigns" ("due_at") WHERE status = 'open'`);
    await queryRunner.query(`CREATE INDEX "campaigns_created_idx" ON "campaigns" ("created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "review_reminders" ("campaign_id" uuid NOT NULL, "owner_id" uuid NOT NULL, "stage" text NOT NULL, "event_id" uuid, "sent_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_ebdcc758949dcb51dfbe570be3e" PRIMARY KEY ("campaign_id", "owner_id", "stage"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "review_items" ("id" uuid NOT NULL, "campaign_id" uuid NOT NULL, "credential_id" uuid NOT NULL, "client_id" text NOT NULL, "agent_id" uuid NOT NULL, "agent_name" text NOT NULL, "owner_id" uuid NOT NULL, "environment" text NOT NULL, "scopes" text array NOT NULL, "rate_limit_requests" integer NOT NULL, "rate_limit_per_seconds" integer NOT NULL, "ip_allowlist" text array NOT NULL, "last_used_at" TIMESTAMP WITH TIME ZONE, "last_rotated_at" TIMESTAMP WITH TIME ZONE, "next_rotation_at" TIMESTAMP WITH TIME ZONE, "risk_flags" text array NOT NULL, "status" text NOT NULL, "decision" text, "decided_by" text, "decided_at" TIMESTAMP WITH TIME ZONE, "comment" text, "outcome" text, "scopes_after" text array, "resolved_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "review_items_environment_check" CHECK (environment IN ('sandbox', 'production')), CONSTRAINT "review_items_decided_check" CHECK ((decision IS NULL) = (decided_by IS NULL AND decided_at IS NULL)), CONSTRAINT "review_items_resolved_check" CHECK ((status = 'pending') = (outcome IS NULL AND resolved_at IS NULL)), CONSTRAINT "review_items_outcome_check" CHECK (outcome IS NULL OR outcome IN ('kept', 'reduced', 'revoked', 'revoked_elsewhere', 'kept_on_expiry', 'revoked_on_expiry')), CONSTRAINT "review_items_decision_check" CHECK (decision IS NULL OR decision IN ('keep', 'reduce', 'revoke')), CONSTRAINT "review_items_status_check" CHECK (status IN ('pending', 'decided', 'expired')), CONSTRAINT "PK_417e5a69fd5f01f31e3c0303dfe" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "review_items_campaign_owner_status_idx" ON "review_items" ("campaign_id", "owner_id", "status") `,
    );
    await queryRunner.query(`CREATE INDEX "review_items_campaign_created_idx" ON "review_items" ("campaign_id", "created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "campaign_signoffs" ("id" uuid NOT NULL, "campaign_id" uuid NOT NULL, "owner_id" uuid NOT NULL, "signed_by" text NOT NULL, "signed_at" TIMESTAMP WITH TIME ZONE NOT NULL, "statement" text NOT NULL, "item_count" integer NOT NULL, "decisions_sha256" text NOT NULL, CONSTRAINT "PK_e25fa55f0fb8c645ace4609451e" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "campaign_signoffs_campaign_owner_key" ON "campaign_signoffs" ("campaign_id", "owner_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "campaign_schedules" ("id" uuid NOT NULL, "name" text NOT NULL, "every_days" integer NOT NULL, "environment" text, "owner_ids" uuid array, "due_in_days" integer NOT NULL, "on_expiry" text NOT NULL, "starts_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_by" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "campaign_schedules_due_in_days_check" CHECK (due_in_days BETWEEN 1 AND 90), CONSTRAINT "campaign_schedules_every_days_check" CHECK (every_days BETWEEN 1 AND 3650), CONSTRAINT "campaign_schedules_environment_check" CHECK (environment IS NULL OR environment IN ('sandbox', 'production')), CONSTRAINT "campaign_schedules_on_expiry_check" CHECK (on_expiry IN ('revoke', 'keep')), CONSTRAINT "PK_1ee46f89acf7006462c8a3534bf" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "campaign_schedules_created_idx" ON "campaign_schedules" ("created_at", "id") `);
    await queryRunner.query(
      `ALTER TABLE "review_reminders" ADD CONSTRAINT "review_reminders_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "campaign_signoffs" ADD CONSTRAINT "campaign_signoffs_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "campaign_signoffs" DROP CONSTRAINT "campaign_signoffs_campaign_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "review_reminders" DROP CONSTRAINT "review_reminders_campaign_id_fkey"`);
    await queryRunner.query(`DROP INDEX "public"."campaign_schedules_created_idx"`);
    await queryRunner.query(`DROP TABLE "campaign_schedules"`);
    await queryRunner.query(`DROP INDEX "public"."campaign_signoffs_campaign_owner_key"`);
    await queryRunner.query(`DROP TABLE "campaign_signoffs"`);
    await queryRunner.query(`DROP INDEX "public"."review_items_campaign_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."review_items_campaign_owner_status_idx"`);
    await queryRunner.query(`DROP TABLE "review_items"`);
    await queryRunner.query(`DROP TABLE "review_reminders"`);
    await queryRunner.query(`DROP INDEX "public"."campaigns_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."campaigns_open_due_idx"`);
    await queryRunner.query(`DROP INDEX "public"."campaigns_due_idx"`);
    await queryRunner.query(`DROP INDEX "public"."campaigns_schedule_period_key"`);
    await queryRunner.query(`DROP TABLE "campaigns"`);
  }
}
