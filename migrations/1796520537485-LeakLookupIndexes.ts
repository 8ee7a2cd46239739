import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for recognising a reported leak (src/leaks): a secret is looked up
 * by its SHA-256 among every version a credential ever had, the current one
 * (credentials.secret_sha256) and those rotations wrote or replaced
 * (rotations.new_secret_sha256, rotations.from_secret_sha256). Without them
 * each report reads both tables whole.
 */
export class LeakLookupIndexes1796520537485 implements MigrationInterface {
  name = 'LeakLookupIndexes1796520537485';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "credentials_secret_sha256_idx" ON "credentials" ("secret_sha256") `);
    await queryRunner.query(`CREATE INDEX "rotations_new_secret_sha256_idx" ON "rotations" ("new_secret_sha256") `);
    await queryRunner.query(`CREATE INDEX "rotations_from_secret_sha256_idx" ON "rotations" ("from_secret_sha256") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."rotations_from_secret_sha256_idx"`);
    await queryRunner.query(`DROP INDEX "public"."rotations_new_secret_sha256_idx"`);
    await queryRunner.query(`DROP INDEX "public"."credentials_secret_sha256_idx"`);
  }
}
