import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { TableRepository } from '../common/db/table-repository';
import { updateFields } from '../common/db/update-fields';
import type { Page } from '../common/pagination/pagination';
import { GatewayEntity } from './entities/gateway.entity';

/** The gateways table, one method per purpose. */
@Injectable()
export class GatewaysRepository extends TableRepository<GatewayEntity> {
  constructor(@InjectDataSource() dataSource: DataSource) {
    super(dataSource, GatewayEntity, 'g');
  }

  list(query: { limit?: number; cursor?: string }): Promise<Page<GatewayEntity>> {
    return this.page(query);
  }

  /** A rotated signing secret, with the previous one and the end of its overlap. */
  async saveSigningSecrets(em: EntityManager, gateway: GatewayEntity): Promise<void> {
    await updateFields(em, GatewayEntity, gateway, [
      'signingSecret',
      'previousSigningSecret',
      'previousSigningSecretExpiresAt',
      'signingSecretRotatedAt',
      'updatedAt',
    ]);
  }

  async saveDeliveryMode(em: EntityManager, gateway: GatewayEntity): Promise<void> {
    await updateFields(em, GatewayEntity, gateway, ['batchEvents', 'updatedAt']);
  }

  async markEnabled(em: EntityManager, id: string, at: Date): Promise<void> {
    await em.update(GatewayEntity, { id }, { status: 'active', disabledAt: null, disabledReason: null, updatedAt: at });
  }

  /** Disables a gateway that is still active; false when it was not (another worker got there first). */
  async disableIfActive(em: EntityManager, id: string, reason: string, at: Date): Promise<boolean> {
    const updated = await em
      .createQueryBuilder()
      .update(GatewayEntity)
      .set({ status: 'disabled', disabledAt: at, disabledReason: reason, updatedAt: at })
      .where("id = :id AND status = 'active'", { id })
      .execute();
    return Boolean(updated.affected);
  }
}
