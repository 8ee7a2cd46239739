import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The OAuth 2.0 authorization server for `oauth_client` credentials (src/oauth):
 *
 * - credentials.jwks: the public JWK set an `oauth_client` registered for
 *   `private_key_jwt` client authentication (public keys only; null for none);
 * - oauth_signing_keys: the service's ES256 access-token signing keys, the
 *   private JWK sealed with AES-256-GCM under LOCAL_STORE_KEY. A key is in the
 *   JWKS from `created_at` to `expires_at` and signs from `activates_at` to
 *   `retires_at`; `expires_at` is past the last expiry of a token it signed;
 * - oauth_revoked_tokens: access tokens revoked by their client (RFC 7009),
 *   kept until they would have expired anyway.
 */
export class OAuth1796520577103 implements MigrationInterface {
  name = 'OAuth1796520577103';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "credentials" ADD "jwks" jsonb`);
    await queryRunner.query(
      `ALTER TABLE "credentials" ADD CONSTRAINT "credentials_jwks_check" CHECK (jwks IS NULL OR type = 'oauth_client')`,
    );
    await queryRunner.query(
      `CREATE TABLE "oauth_signing_keys" (
         "kid" text NOT NULL,
         "algorithm" text NOT NULL,
         "public_jwk" jsonb NOT NULL,
         "private_jwk_sealed" jsonb NOT NULL,
         "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         "activates_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         "retires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         CONSTRAINT "oauth_signing_keys_pkey" PRIMARY KEY ("kid"),
         CONSTRAINT "oauth_signing_keys_algorithm_check" CHECK (algorithm IN ('ES256')),
         CONSTRAINT "oauth_signing_keys_window_check" CHECK (created_at <= activates_at AND activates_at < retires_at AND retires_at <= expires_at)
       )`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "oauth_signing_keys_activates_key" ON "oauth_signing_keys" ("activates_at")`);
    await queryRunner.query(`CREATE INDEX "oauth_signing_keys_expires_idx" ON "oauth_signing_keys" ("expires_at")`);
    await queryRunner.query(
      `CREATE TABLE "oauth_revoked_tokens" (
         "jti" text NOT NULL,
         "credential_id" uuid NOT NULL,
         "revoked_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         CONSTRAINT "oauth_revoked_tokens_pkey" PRIMARY KEY ("jti")
       )`,
    );
    await queryRunner.query(`CREATE INDEX "oauth_revoked_tokens_expires_idx" ON "oauth_revoked_tokens" ("expires_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "oauth_revoked_tokens"`);
    await queryRunner.query(`DROP TABLE "oauth_signing_keys"`);
    await queryRunner.query(`ALTER TABLE "credentials" DROP CONSTRAINT "credentials_jwks_check"`);
    await queryRunner.query(`ALTER TABLE "credentials" DROP COLUMN "jwks"`);
  }
}
