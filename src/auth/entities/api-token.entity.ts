import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

import type { Role } from '../actor';

/** A bearer token. Only its SHA-256 is kept; the token itself is shown once. */
@Entity('api_tokens')
@Check('api_tokens_role_check', `role IN ('admin', 'owner', 'responder', 'auditor', 'gateway')`)
@Check('api_tokens_gateway_check', `(role = 'gateway') = (gateway_id IS NOT NULL)`)
@Check('api_tokens_owner_check', `(role = 'owner') = (owner_id IS NOT NULL)`)
@Index('api_tokens_created_idx', ['createdAt', 'id'])
export class ApiTokenEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  @Column('text')
  role!: Role;

  @Column('uuid', { nullable: true })
  ownerId!: string | null;

  /** The gateway a `gateway` token acts for (foreign key to gateways). */
  @Column('uuid', { nullable: true })
  gatewayId!: string | null;

  @Index('api_tokens_token_sha256_key', { unique: true })
  @Column('text')
  tokenSha256!: string;

  @Column('text')
  createdBy!: string;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz', { nullable: true })
  revokedAt!: Date | null;
}
