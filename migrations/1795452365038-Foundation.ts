import { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1795452365038 implements MigrationInterface {
  name = 'Foundation1795452365038';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "local_secret_versions" ("credential_id" uuid NOT NULL, "version" integer NOT NULL, "request_token" uuid NOT NULL, "key_fingerprint" text NOT NULL, "nonce" bytea, "ciphertext" bytea, "auth_tag" bytea, "state" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "destroyed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "local_secret_versions_sealed_check" CHECK ((destroyed_at IS NULL) = (ciphertext IS NOT NULL AND nonce IS NOT NULL AND auth_tag IS NOT NULL)), CONSTRAINT "local_secret_versions_state_check" CHECK (state IN ('current', 'pending', 'previous')), CONSTRAINT "PK_e14229372ae07c1dc6b3fcfdc89" PRIMARY KEY ("credential_id", "version"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "products" ("id" uuid NOT NULL, "name" text NOT NULL, "operations" text array NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "products_operations_check" CHECK (operations <@ ARRAY['read', 'write', 'delete', 'admin']::text[] AND cardinality(operations) > 0), CONSTRAINT "PK_0806c755e0aca124e67c0cf6d7d" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "products_name_key" ON "products" ("name") `);
    await queryRunner.query(`CREATE INDEX "products_created_idx" ON "products" ("created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "owners" ("id" uuid NOT NULL, "name" text NOT NULL, "email" text NOT NULL, "kind" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "owners_kind_check" CHECK (kind IN ('team', 'person')), CONSTRAINT "PK_42838282f2e6b216301a70b02d6" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "owners_created_idx" ON "owners" ("created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "agents" ("id" uuid NOT NULL, "name" text NOT NULL, "owner_id" uuid NOT NULL, "description" text, "status" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "agents_status_check" CHECK (status IN ('active', 'decommissioned')), CONSTRAINT "PK_9c653f28ae19c5884d5baf6a1d9" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "agents_owner_created_idx" ON "agents" ("owner_id", "created_at", "id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "agents_owner_id_name_key" ON "agents" ("owner_id", "name") `);
    await queryRunner.query(`CREATE INDEX "agents_created_idx" ON "agents" ("created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "credentials" ("id" uuid NOT NULL, "client_id" text NOT NULL, "agent_id" uuid NOT NULL, "owner_id" uuid NOT NULL, "type" text NOT NULL, "environment" text NOT NULL, "scopes" text array NOT NULL, "rate_limit_requests" integer NOT NULL, "rate_limit_per_seconds" integer NOT NULL, "ip_allowlist" text array NOT NULL, "secret_store" text NOT NULL, "secret_ref" text, "secret_version" integer, "secret_version_id" text, "secret_sha256" text, "secret_delivered_version" integer, "status" text NOT NULL, "rotation_interval_days" integer NOT NULL, "grace_period_hours" integer NOT NULL, "last_rotated_at" TIMESTAMP WITH TIME ZONE, "next_rotation_at" TIMESTAMP WITH TIME ZONE, "last_used_at" TIMESTAMP WITH TIME ZONE, "requested_by" text NOT NULL, "approved_by" text, "approved_at" TIMESTAMP WITH TIME ZONE, "pending_change" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "revoked_at" TIMESTAMP WITH TIME ZONE, "revoked_reason" text, CONSTRAINT "credentials_active_has_secret_check" CHECK (status <> 'active' OR (secret_ref IS NOT NULL AND secret_version IS NOT NULL AND secret_sha256 IS NOT NULL)), CONSTRAINT "credentials_scopes_check" CHECK (cardinality(scopes) > 0), CONSTRAINT "credentials_grace_period_check" CHECK (grace_period_hours BETWEEN 0 AND 168), CONSTRAINT "credentials_rotation_interval_check" CHECK (rotation_interval_days BETWEEN 1 AND 90), CONSTRAINT "credentials_rate_limit_check" CHECK (rate_limit_requests BETWEEN 1 AND 100000 AND rate_limit_per_seconds BETWEEN 1 AND 86400), CONSTRAINT "credentials_secret_store_check" CHECK (secret_store IN ('local', 'vault', 'aws')), CONSTRAINT "credentials_status_check" CHECK (status IN ('pending_approval', 'active', 'rejected', 'revoked')), CONSTRAINT "credentials_environment_check" CHECK (environment IN ('sandbox', 'production')), CONSTRAINT "credentials_type_check" CHECK (type IN ('api_key', 'oauth_client')), CONSTRAINT "PK_1e38bc43be6697cdda548ad27a6" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "credentials_client_id_key" ON "credentials" ("client_id") `);
    await queryRunner.query(`CREATE INDEX "credentials_created_idx" ON "credentials" ("created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "credentials_agent_created_idx" ON "credentials" ("agent_id", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "credentials_owner_created_idx" ON "credentials" ("owner_id", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "credentials_due_idx" ON "credentials" ("next_rotation_at") WHERE status = 'active'`);
    await queryRunner.query(
      `CREATE TABLE "api_tokens" ("id" uuid NOT NULL, "name" text NOT NULL, "role" text NOT NULL, "owner_id" uuid, "token_sha256" text NOT NULL, "created_by" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "api_tokens_owner_check" CHECK ((role = 'owner') = (owner_id IS NOT NULL)), CONSTRAINT "api_tokens_role_check" CHECK (role IN ('admin', 'owner', 'responder', 'auditor')), CONSTRAINT "PK_c587455266b5fa8dace7194caac" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "api_tokens_token_sha256_key" ON "api_tokens" ("token_sha256") `);
    await queryRunner.query(`CREATE INDEX "api_tokens_created_idx" ON "api_tokens" ("created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "audit_events" ("id" uuid NOT NULL, "seq" bigint NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "actor" jsonb NOT NULL, "action" text NOT NULL, "target_type" text NOT NULL, "target_id" text NOT NULL, "request_id" text NOT NULL, "data" jsonb NOT NULL, "prev_hash" text NOT NULL, "hash" text NOT NULL, CONSTRAINT "PK_910f64d901a5c3e9878f0d4a407" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "audit_events_seq_key" ON "audit_events" ("seq") `);
    await queryRunner.query(`CREATE INDEX "audit_events_action_idx" ON "audit_events" ("action") `);
    await queryRunner.query(`CREATE INDEX "audit_events_target_id_idx" ON "audit_events" ("target_id") `);
    await queryRunner.query(`CREATE INDEX "audit_events_at_idx" ON "audit_events" ("at") `);
    await queryRunner.query(
      `ALTER TABLE "agents" ADD CONSTRAINT "agents_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "owners"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "credentials" ADD CONSTRAINT "credentials_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "credentials" ADD CONSTRAINT "credentials_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "owners"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );

    // Written by hand (TypeORM does not model these):
    // owners are unique by email, case-insensitively.
    await queryRunner.query(`CREATE UNIQUE INDEX "owners_email_lower_key" ON "owners" (lower("email"))`);
    // GET /v1/audit-events?actor= filters on the actor's token id.
    await queryRunner.query(`CREATE INDEX "audit_events_actor_token_idx" ON "audit_events" ((actor->>'tokenId'))`);
    // The audit log is append-only: no UPDATE, DELETE or TRUNCATE, whoever asks.
    await queryRunner.query(`
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
            END
            $$`);
    await queryRunner.query(
      `CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON "audit_events" FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON "audit_events" FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "audit_events_no_truncate" ON "audit_events"`);
    await queryRunner.query(`DROP TRIGGER "audit_events_no_update_delete" ON "audit_events"`);
    await queryRunner.query(`DROP FUNCTION audit_events_append_only()`);
    await queryRunner.query(`DROP INDEX "public"."audit_events_actor_token_idx"`);
    await queryRunner.query(`DROP INDEX "public"."owners_email_lower_key"`);
    await queryRunner.query(`ALTER TABLE "credentials" DROP CONSTRAINT "credentials_owner_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "credentials" DROP CONSTRAINT "credentials_agent_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "agents" DROP CONSTRAINT "agents_owner_id_fkey"`);
    await queryRunner.query(`DROP INDEX "public"."audit_events_at_idx"`);
    await queryRunner.query(`DROP INDEX "public"."audit_events_target_id_idx"`);
    await queryRunner.query(`DROP INDEX "public"."audit_events_action_idx"`);
    await queryRunner.query(`DROP INDEX "public"."audit_events_seq_key"`);
    await queryRunner.query(`DROP TABLE "audit_events"`);
    await queryRunner.query(`DROP INDEX "public"."api_tokens_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."api_tokens_token_sha256_key"`);
    await queryRunner.query(`DROP TABLE "api_tokens"`);
    await queryRunner.query(`DROP INDEX "public"."credentials_due_idx"`);
    await queryRunner.query(`DROP INDEX "public"."credentials_owner_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."credentials_agent_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."credentials_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."credentials_client_id_key"`);
    await queryRunner.query(`DROP TABLE "credentials"`);
    await queryRunner.query(`DROP INDEX "public"."agents_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."agents_owner_id_name_key"`);
    await queryRunner.query(`DROP INDEX "public"."agents_owner_created_idx"`);
    await queryRunner.query(`DROP TABLE "agents"`);
    await queryRunner.query(`DROP INDEX "public"."owners_created_idx"`);
    await queryRunner.query(`DROP TABLE "owners"`);
    await queryRunner.query(`DROP INDEX "public"."products_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."products_name_key"`);
    await queryRunner.query(`DROP TABLE "products"`);
    await queryRunner.query(`DROP TABLE "local_secret_versions"`);
  }
}
