import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { updateFields } from '../common/db/update-fields';
import { fetchTimePage, Page } from '../common/pagination/pagination';
import { GatewayEntity } from './entities/gateway.entity';

/** The gateways table, one method per purpose. */
@Injectable()
export class GatewaysRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(em: EntityManager, gateway: GatewayEntity): Promise<void> {
    await em.insert(GatewayEntity, gateway);
  }

  list(query: { limit?: number; cursor?: string }): Promise<Page<GatewayEntity>> {
    return fetchTimePage(this.dataSource.getRepository(GatewayEntity).createQueryBuilder('g'), 'g', query, (row) => row);
  }

  findById(id: string, em: EntityManager = this.dataSource.manager): Promise<GatewayEntity | null> {
    return em.findOne(GatewayEntity, { where: { id } });
  }

  lockForChange(em: EntityManager, id: string): Promise<GatewayEntity | null> {
    return em.findOne(GatewayEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
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
