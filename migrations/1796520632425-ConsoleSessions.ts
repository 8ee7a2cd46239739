import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Console sessions (src/console/console-sessions.service.ts). A row keeps the
 * SHA-256 of the session id, never the id itself, and the SHA-256 of the API
 * token the session was opened with (the digest api_tokens already keeps), so
 * each request re-checks that the token is still live.
 */
export class ConsoleSessions1796520632425 implements MigrationInterface {
  name = 'ConsoleSessions1796520632425';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "console_sessions" (
         "id" uuid NOT NULL,
         "session_sha256" text NOT NULL,
         "token_id" text NOT NULL,
         "token_sha256" text NOT NULL,
         "token_name" text NOT NULL,
         "role" text NOT NULL,
         "owner_id" uuid,
         "created_at" timestamptz NOT NULL,
         "expires_at" timestamptz NOT NULL,
         "revoked_at" timestamptz,
         CONSTRAINT "console_sessions_pkey" PRIMARY KEY ("id"),
         CONSTRAINT "console_sessions_role_check" CHECK (role IN ('admin', 'owner', 'responder', 'auditor'))
       )`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "console_sessions_session_sha256_key" ON "console_sessions" ("session_sha256")`);
    await queryRunner.query(`CREATE INDEX "console_sessions_expires_idx" ON "console_sessions" ("expires_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "console_sessions"`);
  }
}
