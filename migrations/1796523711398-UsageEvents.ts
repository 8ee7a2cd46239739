import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-call usage records (src/usage): one row per verify/authz call and per
 * event a gateway reports (POST /v1/usage), never the presented key.
 * Partitioned by day on `at` (native range partitioning): the partitions are
 * created ahead by the usage sink and the scheduler, and whole partitions older
 * than USAGE_RETENTION_DAYS are dropped by the scheduler instead of deleting
 * rows (src/usage/usage-events.repository.ts). No foreign keys: records outlive
 * nothing and must stay cheap to write.
 */
export class UsageEvents1796523711398 implements MigrationInterface {
  name = 'UsageEvents1796523711398';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "usage_events" (
         "id" uuid NOT NULL,
         "at" TIMESTAMP WITH TIME ZONE NOT NULL,
         "credential_id" uuid NOT NULL,
         "client_id" text NOT NULL,
         "owner_id" uuid NOT NULL,
         "source" text NOT NULL,
         "gateway_id" uuid,
         "method" text,
         "path" text,
         "scope" text,
         "status_code" integer,
         "ip" text,
         "request_id" text,
         "outcome" text NOT NULL,
         "deny_code" text,
         CONSTRAINT "usage_events_source_check" CHECK (source IN ('verify', 'authz', 'gateway')),
         CONSTRAINT "usage_events_outcome_check" CHECK (outcome IN ('allowed', 'denied')),
         CONSTRAINT "usage_events_pkey" PRIMARY KEY ("at", "id")
       ) PARTITION BY RANGE ("at")`,
    );
    await queryRunner.query(`CREATE INDEX "usage_events_credential_at_idx" ON "usage_events" ("credential_id", "at", "id")`);
    await queryRunner.query(`CREATE INDEX "usage_events_owner_at_idx" ON "usage_events" ("owner_id", "at", "id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "usage_events"`);
  }
}
