import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

export const OWNER_KINDS = ['team', 'person'] as const;
export type OwnerKind = (typeof OWNER_KINDS)[number];

/** A team or person accountable for agents. Unique by lower(email) (see migration). */
@Entity('owners')
@Check('owners_kind_check', `kind IN ('team', 'person')`)
@Index('owners_created_idx', ['createdAt', 'id'])
// Case-insensitive uniqueness of email is an expression index the migration creates by hand.
@Index('owners_email_lower_key', { synchronize: false })
export class OwnerEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  @Column('text')
  email!: string;

  @Column('text')
  kind!: OwnerKind;

  @Column('timestamptz')
  createdAt!: Date;

  @Column('timestamptz')
  updatedAt!: Date;
}
