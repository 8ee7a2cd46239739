import { MigrationInterface, QueryRunner } from 'typeorm';

const EVENT_TYPES_BEFORE = [
  'credential.issued',
  'credential.updated',
  'credential.rotated',
  'credential.version_retired',
  'credential.revoked',
  'rotation.failed',
  'review.reminder',
];
const ALERT_EVENT_TYPES = ['alert.raised', 'alert.acknowledged', 'alert.resolved'];

const list = (types: string[]) => types.map((t) => `'${t}'`).join(', ');

/**
 * Anomaly alerts (src/alerts):
 * - alerts: one row per alert; the partial unique index alerts_one_open_key
 *   allows one unresolved (open or acknowledged) alert per (type, credential),
 *   which repeats count into.
 * - alert_policies: the action per alert type (a missing row is `none`).
 * - alert_auth_failures: denials per credential and minute, summed across
 *   replicas and flushes, so a burst split over several of them is still seen.
 * - alert_networks: the /24 (IPv4) or /48 (IPv6) networks each credential was
 *   used from and when last, for `new_network` (rows older than 30 days are swept).
 * - alert_spike_hours: the closed hours the volume-spike sweep has evaluated
 *   (each once, across scheduler replicas).
 * - outbox_events may carry alert.raised / alert.acknowledged / alert.resolved.
 */
export class Alerts1796530745461 implements MigrationInterface {
  name = 'Alerts1796530745461';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "alerts" (
         "id" uuid NOT NULL,
         "type" text NOT NULL,
         "severity" text NOT NULL,
         "status" text NOT NULL,
         "credential_id" uuid NOT NULL,
         "agent_id" uuid NOT NULL,
         "owner_id" uuid NOT NULL,
         "first_seen_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         "last_seen_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         "count" integer NOT NULL,
         "evidence" jsonb NOT NULL,
         "action" jsonb,
         "acknowledged_at" TIMESTAMP WITH TIME ZONE,
         "acknowledged_by" text,
         "resolved_at" TIMESTAMP WITH TIME ZONE,
         "resolved_by" text,
         "resolution_note" text,
         "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         CONSTRAINT "alerts_type_check" CHECK (type IN ('ip_not_allowed', 'auth_failures', 'retired_key_used', 'volume_spike', 'dormant_reactivated', 'new_network')),
         CONSTRAINT "alerts_severity_check" CHECK (severity IN ('low', 'medium', 'high')),
         CONSTRAINT "alerts_status_check" CHECK (status IN ('open', 'acknowledged', 'resolved')),
         CONSTRAINT "alerts_count_check" CHECK (count > 0),
         CONSTRAINT "alerts_credential_id_fkey" FOREIGN KEY ("credential_id") REFERENCES "credentials"("id"),
         CONSTRAINT "alerts_pkey" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "alerts_one_open_key" ON "alerts" ("type", "credential_id") WHERE status <> 'resolved'`);
    await queryRunner.query(`CREATE INDEX "alerts_created_idx" ON "alerts" ("created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "alerts_credential_created_idx" ON "alerts" ("credential_id", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "alerts_owner_created_idx" ON "alerts" ("owner_id", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "alerts_status_created_idx" ON "alerts" ("status", "created_at", "id")`);
    await queryRunner.query(
      `CREATE TABLE "alert_policies" (
         "type" text NOT NULL,
         "action" text NOT NULL,
         "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         "updated_by" text NOT NULL,
         CONSTRAINT "alert_policies_action_check" CHECK (action IN ('none', 'rotate', 'revoke')),
         CONSTRAINT "alert_policies_pkey" PRIMARY KEY ("type"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "alert_auth_failures" (
         "credential_id" uuid NOT NULL,
         "minute" TIMESTAMP WITH TIME ZONE NOT NULL,
         "denials" integer NOT NULL,
         CONSTRAINT "alert_auth_failures_pkey" PRIMARY KEY ("credential_id", "minute"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "alert_networks" (
         "credential_id" uuid NOT NULL,
         "network" text NOT NULL,
         "last_seen_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         CONSTRAINT "alert_networks_pkey" PRIMARY KEY ("credential_id", "network"))`,
    );
    await queryRunner.query(`CREATE INDEX "alert_networks_last_seen_idx" ON "alert_networks" ("last_seen_at")`);
    await queryRunner.query(
      `CREATE TABLE "alert_spike_hours" (
         "hour" TIMESTAMP WITH TIME ZONE NOT NULL,
         "evaluated_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         "alerts" integer NOT NULL,
         CONSTRAINT "alert_spike_hours_pkey" PRIMARY KEY ("hour"))`,
    );
    await queryRunner.query(`ALTER TABLE "outbox_events" DROP CONSTRAINT "outbox_events_type_check"`);
    await queryRunner.query(
      `ALTER TABLE "outbox_events" ADD CONSTRAINT "outbox_events_type_check" CHECK (type IN (${list([...EVENT_TYPES_BEFORE, ...ALERT_EVENT_TYPES])}))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "deliveries" WHERE event_type IN (${list(ALERT_EVENT_TYPES)})`);
    await queryRunner.query(`DELETE FROM "outbox_events" WHERE type IN (${list(ALERT_EVENT_TYPES)})`);
    await queryRunner.query(`ALTER TABLE "outbox_events" DROP CONSTRAINT "outbox_events_type_check"`);
    await queryRunner.query(
      `ALTER TABLE "outbox_events" ADD CONSTRAINT "outbox_events_type_check" CHECK (type IN (${list(EVENT_TYPES_BEFORE)}))`,
    );
    await queryRunner.query(`DROP TABLE "alert_spike_hours"`);
    await queryRunner.query(`DROP TABLE "alert_networks"`);
    await queryRunner.query(`DROP TABLE "alert_auth_failures"`);
    await queryRunner.query(`DROP TABLE "alert_policies"`);
    await queryRunner.query(`DROP TABLE "alerts"`);
  }
}
