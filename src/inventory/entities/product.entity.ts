import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

export const OPERATIONS = ['read', 'write', 'delete', 'admin'] as const;
export type Operation = (typeof OPERATIONS)[number];
/** Operations that need a second person's approval before they are live. */
export const PRIVILEGED_OPERATIONS: readonly Operation[] = ['delete', 'admin'];

/** An API product of the catalog that scopes are checked against. */
@Entity('products')
@Check('products_operations_check', `operations <@ ARRAY['read', 'write', 'delete', 'admin']::text[] AND cardinality(operations) > 0`)
@Index('products_created_idx', ['createdAt', 'id'])
export class ProductEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Index('products_name_key', { unique: true })
  @Column('text')
  name!: string;

  @Column('text', { array: true })
  operations!: Operation[];

  @Column('timestamptz')
  createdAt!: Date;
}
