import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The access tokens a client revoked, by credential: the oauth module's token
 * client cache (src/oauth/token-client-cache.ts) loads a credential's revoked
 * `jti`s in one indexed read instead of asking for each presented token's.
 */
export class RevokedTokensByCredential1796530738779 implements MigrationInterface {
  name = 'RevokedTokensByCredential1796530738779';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "oauth_revoked_tokens_credential_idx" ON "oauth_revoked_tokens" ("credential_id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "oauth_revoked_tokens_credential_idx"`);
  }
}
