import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Daily usage rollups, so a campaign open reads 90 days of usage as at most
 * 91 rows per credential and scope instead of up to 2,160.
 *
 * - usage_daily: the calls of usage_hourly (migrations/1796521235683-Enforcement.ts)
 *   summed per credential, UTC day, scope, outcome and deny code. The usage
 *   recorder (src/enforcement/usage-recorder.service.ts) adds each flush's calls
 *   to both tables in the same transaction, so the two always agree: for every
 *   key, a day's calls equal the sum of its 24 hours. Like usage_hourly it is
 *   kept until deleted (nothing prunes either).
 * - It is backfilled here from usage_hourly, in one INSERT ... SELECT ... GROUP BY,
 *   under a SHARE lock on usage_hourly so no flush commits between the two.
 * - credential_usage_daily replaces credential_usage_hourly
 *   (migrations/1796530753747-ReviewUsage.ts) as the view the enforcement module
 *   publishes for reviews: per credential, UTC day and scope, the calls that were
 *   allowed and those refused (any deny code). The hourly view had no other
 *   reader and is dropped, so no one aggregates 90 days of hours by mistake.
 */
export class UsageDaily1796534811799 implements MigrationInterface {
  name = 'UsageDaily1796534811799';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "usage_daily" (
         "credential_id" uuid NOT NULL,
         "day" TIMESTAMP WITH TIME ZONE NOT NULL,
         "scope" text NOT NULL,
         "outcome" text NOT NULL,
         "deny_code" text NOT NULL,
         "calls" bigint NOT NULL,
         CONSTRAINT "usage_daily_outcome_check" CHECK (outcome IN ('allowed', 'denied')),
         CONSTRAINT "usage_daily_deny_code_check" CHECK ((outcome = 'allowed') = (deny_code = '')),
         CONSTRAINT "usage_daily_day_check" CHECK (date_trunc('day', "day", 'UTC') = "day"),
         CONSTRAINT "usage_daily_pkey" PRIMARY KEY ("credential_id", "day", "scope", "outcome", "deny_code"))`,
    );
    await queryRunner.query(`LOCK TABLE "usage_hourly" IN SHARE MODE`);
    await queryRunner.query(
      `INSERT INTO "usage_daily" (credential_id, day, scope, outcome, deny_code, calls)
       SELECT credential_id, date_trunc('day', hour, 'UTC'), scope, outcome, deny_code, sum(calls)
         FROM usage_hourly
        GROUP BY credential_id, date_trunc('day', hour, 'UTC'), scope, outcome, deny_code`,
    );
    await queryRunner.query(
      `CREATE VIEW "credential_usage_daily" AS
         SELECT u.credential_id, u.day, u.scope,
                CASE WHEN u.outcome = 'allowed' THEN u.calls ELSE 0 END AS allowed_calls,
                CASE WHEN u.outcome = 'denied' THEN u.calls ELSE 0 END AS denied_calls
           FROM usage_daily u`,
    );
    await queryRunner.query(`DROP VIEW "credential_usage_hourly"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE VIEW "credential_usage_hourly" AS
         SELECT u.credential_id, u.hour, u.scope,
                CASE WHEN u.outcome = 'allowed' THEN u.calls ELSE 0 END AS allowed_calls,
                CASE WHEN u.outcome = 'denied' THEN u.calls ELSE 0 END AS denied_calls
           FROM usage_hourly u`,
    );
    await queryRunner.query(`DROP VIEW "credential_usage_daily"`);
    await queryRunner.query(`DROP TABLE "usage_daily"`);
  }
}
