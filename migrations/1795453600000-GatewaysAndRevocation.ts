import { MigrationInterface, QueryRunner } from 'typeorm';

export class GatewaysAndRevocation1795453600000 implements MigrationInterface {
  name = 'GatewaysAndRevocation1795453600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "revocations" ("id" uuid NOT NULL, "agent_id" uuid, "owner_id" uuid, "reason" text NOT NULL, "actor" jsonb NOT NULL, "request_id" text NOT NULL, "revoked_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_9f70c460c05775181f4a3527833" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "revocations_created_idx" ON "revocations" ("created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "revocations_agent_idx" ON "revocations" ("agent_id", "created_at") `);
    await queryRunner.query(
      `CREATE TABLE "revocation_credentials" ("credential_id" uuid NOT NULL, "revocation_id" uuid NOT NULL, "event_id" uuid NOT NULL, "secret_store" text NOT NULL, "secret_target" jsonb NOT NULL, "secret_status" text NOT NULL, "secret_attempts" integer NOT NULL, "secret_next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL, "secret_last_error" text, "secret_destroyed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "revocation_credentials_secret_store_check" CHECK (secret_store IN ('local', 'vault', 'aws')), CONSTRAINT "revocation_credentials_secret_status_check" CHECK (secret_status IN ('pending', 'destroyed')), CONSTRAINT "PK_a9c62d19fabbe9b491c6c969a5c" PRIMARY KEY ("credential_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "revocation_credentials_secret_pending_idx" ON "revocation_credentials" ("secret_next_attempt_at") WHERE secret_status = 'pending'`,
    );
    await queryRunner.query(`CREATE INDEX "revocation_credentials_revocation_idx" ON "revocation_credentials" ("revocation_id") `);
    await queryRunner.query(
      `CREATE TABLE "outbox_events" ("id" uuid NOT NULL, "seq" BIGSERIAL NOT NULL, "type" text NOT NULL, "credential_id" uuid, "environment" text, "payload" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "outbox_events_type_check" CHECK (type IN ('credential.issued', 'credential.updated', 'credential.rotated', 'credential.version_retired', 'credential.revoked', 'rotation.failed', 'review.reminder')), CONSTRAINT "PK_6689a16c00d09b8089f6237f1d2" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "outbox_events_credential_idx" ON "outbox_events" ("credential_id", "seq") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "outbox_events_seq_key" ON "outbox_events" ("seq") `);
    await queryRunner.query(
      `CREATE TABLE "gateways" ("id" uuid NOT NULL, "name" text NOT NULL, "url" text NOT NULL, "environments" text array NOT NULL, "status" text NOT NULL, "signing_secret" jsonb NOT NULL, "previous_signing_secret" jsonb, "previous_signing_secret_expires_at" TIMESTAMP WITH TIME ZONE, "signing_secret_rotated_at" TIMESTAMP WITH TIME ZONE, "disabled_at" TIMESTAMP WITH TIME ZONE, "disabled_reason" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "gateways_previous_secret_check" CHECK ((previous_signing_secret IS NULL) = (previous_signing_secret_expires_at IS NULL)), CONSTRAINT "gateways_environments_check" CHECK (environments <@ ARRAY['sandbox', 'production']::text[] AND cardinality(environments) > 0), CONSTRAINT "gateways_status_check" CHECK (status IN ('active', 'disabled')), CONSTRAINT "PK_b53153080a6907017cf44cb7f58" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "gateways_created_idx" ON "gateways" ("created_at", "id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "gateways_name_key" ON "gateways" ("name") `);
    await queryRunner.query(
      `CREATE TABLE "deliveries" ("id" uuid NOT NULL, "event_id" uuid NOT NULL, "event_seq" bigint NOT NULL, "event_type" text NOT NULL, "credential_id" uuid, "target" text NOT NULL, "gateway_id" uuid, "status" text NOT NULL, "attempts" integer NOT NULL, "retry_step" integer NOT NULL, "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL, "last_attempt_at" TIMESTAMP WITH TIME ZONE, "last_status_code" integer, "last_error" text, "delivered_at" TIMESTAMP WITH TIME ZONE, "failed_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "deliveries_target_check" CHECK (target IN ('gateway', 'notification') AND (target = 'gateway') = (gateway_id IS NOT NULL)), CONSTRAINT "deliveries_status_check" CHECK (status IN ('pending', 'delivered', 'failed')), CONSTRAINT "PK_a6ef225c5c5f0974e503bfb731f" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "deliveries_status_created_idx" ON "deliveries" ("status", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "deliveries_gateway_created_idx" ON "deliveries" ("gateway_id", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "deliveries_pending_idx" ON "deliveries" ("created_at", "id") WHERE status = 'pending'`);
    await queryRunner.query(
      `CREATE INDEX "deliveries_chain_idx" ON "deliveries" ("gateway_id", "credential_id", "event_seq") WHERE status = 'pending'`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "deliveries_event_gateway_key" ON "deliveries" ("event_id", "gateway_id") `);
    await queryRunner.query(
      `ALTER TABLE "revocation_credentials" ADD CONSTRAINT "revocation_credentials_revocation_id_fkey" FOREIGN KEY ("revocation_id") REFERENCES "revocations"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "outbox_events"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_gateway_id_fkey" FOREIGN KEY ("gateway_id") REFERENCES "gateways"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_gateway_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_event_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "revocation_credentials" DROP CONSTRAINT "revocation_credentials_revocation_id_fkey"`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_event_gateway_key"`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_chain_idx"`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_pending_idx"`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_gateway_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."deliveries_status_created_idx"`);
    await queryRunner.query(`DROP TABLE "deliveries"`);
    await queryRunner.query(`DROP INDEX "public"."gateways_name_key"`);
    await queryRunner.query(`DROP INDEX "public"."gateways_created_idx"`);
    await queryRunner.query(`DROP TABLE "gateways"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_events_seq_key"`);
    await queryRunner.query(`DROP INDEX "public"."outbox_events_credential_idx"`);
    await queryRunner.query(`DROP TABLE "outbox_events"`);
    await queryRunner.query(`DROP INDEX "public"."revocation_credentials_revocation_idx"`);
    await queryRunner.query(`DROP INDEX "public"."revocation_credentials_secret_pending_idx"`);
    await queryRunner.query(`DROP TABLE "revocation_credentials"`);
    await queryRunner.query(`DROP INDEX "public"."revocations_agent_idx"`);
    await queryRunner.query(`DROP INDEX "public"."revocations_created_idx"`);
    await queryRunner.query(`DROP TABLE "revocations"`);
  }
}
