import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

import { References } from '../../common/db/references';
import { OwnerEntity } from './owner.entity';

export const AGENT_STATUSES = ['active', 'decommissioned'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** A non-human identity with one accountable owner. */
@Entity('agents')
@Check('agents_status_check', `status IN ('active', 'decommissioned')`)
@Index('agents_created_idx', ['createdAt', 'id'])
@Index('agents_owner_id_name_key', ['ownerId', 'name'], { unique: true })
@Index('agents_owner_created_idx', ['ownerId', 'createdAt', 'id'])
export class AgentEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  @Column('uuid')
  ownerId!: string;

  @References(() => OwnerEntity, 'owner_id', 'agents_owner_id_fkey')
  owner?: OwnerEntity;

  @Column('text', { nullable: true })
  description!: string | null;

  @Column('text')
  status!: AgentStatus;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz')
  updatedAt!: Date;
}
