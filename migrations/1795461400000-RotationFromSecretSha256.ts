import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each rotation keeps the SHA-256 of the version it replaces, so the versions
 * a credential still accepts (the current one, a published new one, previous
 * ones in their grace period) can all be recognised by hash: a revocation
 * whose reason holds one of them reports a confirmed leak. Before, the first
 * version's hash was overwritten on the credential at its first promotion.
 *
 * Existing rows are filled where the hash is still known: from the rotation
 * that created the version, or from the credential while it is still current.
 */
export class RotationFromSecretSha2561795461400000 implements MigrationInterface {
  name = 'RotationFromSecretSha2561795461400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "rotations" ADD "from_secret_sha256" text`);
    await queryRunner.query(
      `UPDATE "rotations" r SET "from_secret_sha256" = p."new_secret_sha256"
         FROM "rotations" p
        WHERE p."credential_id" = r."credential_id" AND p."to_version" = r."from_version"`,
    );
    await queryRunner.query(
      `UPDATE "rotations" r SET "from_secret_sha256" = c."secret_sha256"
         FROM "credentials" c
        WHERE r."from_secret_sha256" IS NULL AND c."id" = r."credential_id" AND c."secret_version" = r."from_version"`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "rotations" DROP COLUMN "from_secret_sha256"`);
  }
}
