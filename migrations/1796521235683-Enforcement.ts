import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The enforcement hot path (src/enforcement):
 *
 * - credential_enforcement_versions: every version of every credential that a
 *   gateway has been told about, with the instant it stops being valid. It
 *   follows the events exactly (src/rotation/rotation-events.ts):
 *   `credential.rotated` (rotation step `published`) makes the new version the
 *   newest and the one it replaces valid until `grace_ends_at`; a rotation that
 *   fails after publishing leaves its new version valid and makes the replaced
 *   one current again (`rotation.failed` carries it); `credential.version_retired`
 *   (`retired_at`) ends a version for good. Promotion sends no event and changes
 *   nothing here. A presented key is looked up by its SHA-256 in this view, so a
 *   retired or revoked version is recognised as such rather than as unknown.
 * - (the indexes that let that lookup reach each branch of the view by hash come
 *   from the leak lookup migration, which runs first).
 * - usage_hourly and usage_ip_hourly: hourly rollups of verify/authz calls per
 *   credential (scope, outcome, deny code) and per client address, written in
 *   batches by the usage recorder; the usage view, its alerts and reviews read them.
 * - credentials.last_used_ip beside last_used_at.
 */
export class Enforcement1796521235683 implements MigrationInterface {
  name = 'Enforcement1796521235683';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // The lookups by SHA-256 (credentials.secret_sha256, rotations' new and from hashes) use the indexes
    // migrations/1796520537485-LeakLookupIndexes.ts creates.
    await queryRunner.query(
      `CREATE VIEW "credential_enforcement_versions" AS
         SELECT c.id AS credential_id, c.secret_version AS version, c.secret_sha256,
                (SELECT r.grace_ends_at FROM rotations r
                  WHERE r.credential_id = c.id AND r.status = 'running' AND r.step IN ('published', 'verified')
                    AND r.from_version = c.secret_version
                  LIMIT 1) AS valid_until,
                NULL::timestamptz AS retired_at
           FROM credentials c
          WHERE c.secret_sha256 IS NOT NULL AND c.secret_version IS NOT NULL
         UNION ALL
         SELECT r.credential_id, r.to_version, r.new_secret_sha256, NULL::timestamptz, NULL::timestamptz
           FROM rotations r
          WHERE r.status <> 'completed' AND r.step <> 'pending' AND r.new_secret_sha256 IS NOT NULL
         UNION ALL
         SELECT r.credential_id, r.from_version, r.from_secret_sha256, r.grace_ends_at, r.retired_at
           FROM rotations r
          WHERE r.status = 'completed' AND r.from_secret_sha256 IS NOT NULL`,
    );
    await queryRunner.query(`ALTER TABLE "credentials" ADD "last_used_ip" text`);
    await queryRunner.query(
      `CREATE TABLE "usage_hourly" (
         "credential_id" uuid NOT NULL,
         "hour" TIMESTAMP WITH TIME ZONE NOT NULL,
         "scope" text NOT NULL,
         "outcome" text NOT NULL,
         "deny_code" text NOT NULL,
         "calls" bigint NOT NULL,
         CONSTRAINT "usage_hourly_outcome_check" CHECK (outcome IN ('allowed', 'denied')),
         CONSTRAINT "usage_hourly_deny_code_check" CHECK ((outcome = 'allowed') = (deny_code = '')),
         CONSTRAINT "usage_hourly_hour_check" CHECK (date_trunc('hour', "hour") = "hour"),
         CONSTRAINT "usage_hourly_pkey" PRIMARY KEY ("credential_id", "hour", "scope", "outcome", "deny_code"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "usage_ip_hourly" (
         "credential_id" uuid NOT NULL,
         "hour" TIMESTAMP WITH TIME ZONE NOT NULL,
         "ip" text NOT NULL,
         "calls" bigint NOT NULL,
         "denied" bigint NOT NULL,
         CONSTRAINT "usage_ip_hourly_hour_check" CHECK (date_trunc('hour', "hour") = "hour"),
         CONSTRAINT "usage_ip_hourly_pkey" PRIMARY KEY ("credential_id", "hour", "ip"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "usage_ip_hourly"`);
    await queryRunner.query(`DROP TABLE "usage_hourly"`);
    await queryRunner.query(`ALTER TABLE "credentials" DROP COLUMN "last_used_ip"`);
    await queryRunner.query(`DROP VIEW "credential_enforcement_versions"`);
  }
}
