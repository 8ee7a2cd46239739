import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API tokens of role `gateway`: each is bound to one gateway (gateway_id),
 * the way an owner token is bound to one owner. A gateway token may call only
 * the enforcement and sync routes of its own gateway.
 */
export class GatewayTokens1796520337699 implements MigrationInterface {
  name = 'GatewayTokens1796520337699';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_tokens" ADD "gateway_id" uuid`);
    await queryRunner.query(
      `ALTER TABLE "api_tokens" ADD CONSTRAINT "FK_api_tokens_gateway" FOREIGN KEY ("gateway_id") REFERENCES "gateways"("id") ON DELETE RESTRICT`,
    );
    await queryRunner.query(`ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_role_check"`);
    await queryRunner.query(
      `ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_role_check" CHECK (role IN ('admin', 'owner', 'responder', 'auditor', 'gateway'))`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_gateway_check" CHECK ((role = 'gateway') = (gateway_id IS NOT NULL))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "api_tokens" WHERE "role" = 'gateway'`);
    await queryRunner.query(`ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_gateway_check"`);
    await queryRunner.query(`ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_role_check"`);
    await queryRunner.query(
      `ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_role_check" CHECK (role IN ('admin', 'owner', 'responder', 'auditor'))`,
    );
    await queryRunner.query(`ALTER TABLE "api_tokens" DROP CONSTRAINT "FK_api_tokens_gateway"`);
    await queryRunner.query(`ALTER TABLE "api_tokens" DROP COLUMN "gateway_id"`);
  }
}
