import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Usage-based access reviews.
 *
 * - credential_usage_hourly: the view the enforcement module publishes over its
 *   hourly rollups (migrations/1796521235683-Enforcement.ts) for other modules'
 *   set-based statements: per credential, hour and scope, the calls that were
 *   allowed and the calls that were refused (any deny code). Which calls count
 *   as allowed is decided here, once; a campaign open aggregates it inside its
 *   one INSERT ... SELECT (src/reviews/review-items.repository.ts). Postgres
 *   inlines the view, so the plan is that of the rollups themselves.
 * - review_items gains the usage an owner sees when deciding, snapshotted when
 *   the campaign opens (allowed calls in the 30 and 90 days before, refused
 *   calls in the 90 days before, the granted scopes used in those 90 days) and
 *   the recommendation computed from it. Items of campaigns opened before this
 *   migration have none (null).
 */
export class ReviewUsage1796530753747 implements MigrationInterface {
  name = 'ReviewUsage1796530753747';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE VIEW "credential_usage_hourly" AS
         SELECT u.credential_id, u.hour, u.scope,
                CASE WHEN u.outcome = 'allowed' THEN u.calls ELSE 0 END AS allowed_calls,
                CASE WHEN u.outcome = 'denied' THEN u.calls ELSE 0 END AS denied_calls
           FROM usage_hourly u`,
    );
    await queryRunner.query(
      `ALTER TABLE "review_items"
         ADD "calls_30d" bigint,
         ADD "calls_90d" bigint,
         ADD "denied_90d" bigint,
         ADD "scopes_used_90d" text array,
         ADD "recommendation" text,
         ADD "recommended_scopes" text array,
         ADD "recommendation_reason" text,
         ADD CONSTRAINT "review_items_recommendation_check" CHECK (recommendation IS NULL OR recommendation IN ('keep', 'reduce', 'revoke'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "review_items"
         DROP CONSTRAINT "review_items_recommendation_check",
         DROP COLUMN "recommendation_reason",
         DROP COLUMN "recommended_scopes",
         DROP COLUMN "recommendation",
         DROP COLUMN "scopes_used_90d",
         DROP COLUMN "denied_90d",
         DROP COLUMN "calls_90d",
         DROP COLUMN "calls_30d"`,
    );
    await queryRunner.query(`DROP VIEW "credential_usage_hourly"`);
  }
}
