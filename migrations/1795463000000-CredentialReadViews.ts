import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Views the inventory publishes for other modules' set-based statements, so
 * that reviews and rotation read credentials without naming inventory tables
 * and without splicing SQL text the inventory hands them:
 *
 * - credential_review_source: every credential with its agent's name, the
 *   columns an access review snapshots and settles (a campaign copies 100,000
 *   of them in one INSERT ... SELECT);
 * - credential_rotation_schedule: every active credential and when it next
 *   rotates, the columns the rotation sweep's INSERT ... SELECT needs (served
 *   by credentials_due_idx, whose predicate is the view's).
 *
 * Postgres inlines a plain view into the statement that reads it, so the plans
 * are those of the subqueries they replace. A later migration that changes a
 * column these views read must drop and recreate them.
 */
export class CredentialReadViews1795463000000 implements MigrationInterface {
  name = 'CredentialReadViews1795463000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE VIEW "credential_review_source" AS
         SELECT c.id AS credential_id, c.client_id, c.agent_id, a.name AS agent_name, c.owner_id, c.environment,
                c.status, c.scopes, c.rate_limit_requests, c.rate_limit_per_seconds, c.ip_allowlist, c.last_used_at,
                c.last_rotated_at, c.next_rotation_at, c.created_at, c.revoked_at
           FROM credentials c JOIN agents a ON a.id = c.agent_id`,
    );
    await queryRunner.query(
      `CREATE VIEW "credential_rotation_schedule" AS
         SELECT c.id AS credential_id, c.agent_id, c.owner_id, c.environment, c.secret_store, c.secret_version,
                c.secret_version_id, c.secret_sha256, c.next_rotation_at
           FROM credentials c
          WHERE c.status = 'active'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP VIEW "credential_rotation_schedule"`);
    await queryRunner.query(`DROP VIEW "credential_review_source"`);
  }
}
