import { JoinColumn, ManyToOne, type ObjectType } from 'typeorm';

/**
 * A many-to-one relation held by the foreign key `column`, whose constraint is
 * named `constraint` as the migration names it. A referenced row cannot be
 * deleted while something references it (ON DELETE RESTRICT).
 */
export function References<T>(
  entity: () => ObjectType<T>,
  column: string,
  constraint: string,
  options: { nullable?: boolean } = {},
): PropertyDecorator {
  return (target, key) => {
    JoinColumn({ name: column, foreignKeyConstraintName: constraint })(target, key);
    ManyToOne(entity, { onDelete: 'RESTRICT', nullable: options.nullable ?? false })(target, key);
  };
}
