import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import type { RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { isUniqueViolation } from '../common/db/pg-errors';
import { ConflictError, NotFoundError } from '../common/errors/domain-error';
import { mapPage, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import type { ProductDto } from './dto/product.dto';
import { Operation, OPERATIONS, ProductEntity } from './entities/product.entity';
import { ProductsRepository } from './products.repository';

@Injectable()
export class ProductsService {
  /**
   * Products are never changed or deleted once created, so a product seen once
   * can be remembered for good; only names not seen yet go to the database.
   */
  private readonly knownOperations = new Map<string, Operation[]>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: ProductsRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  async create(ctx: RequestContext, input: { name: string; operations: Operation[] }): Promise<ProductDto> {
    // Keep operations in catalog order, so equal sets read the same everywhere.
    const operations = OPERATIONS.filter((op) => input.operations.includes(op));
    const product: ProductEntity = { id: this.random.uuid(), name: input.name, operations, createdAt: this.clock.now() };
    try {
      await this.dataSource.transaction(async (em) => {
        await this.repository.insert(em, product);
        await this.audit.record(em, ctx, {
          action: 'product.created',
          targetType: 'product',
          targetId: product.id,
          data: { name: product.name, operations },
        });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('PRODUCT_NAME_TAKEN', `A product named ${input.name} exists.`);
      throw error;
    }
    return toView(product);
  }

  async get(id: string): Promise<ProductDto> {
    const product = await this.repository.findById(id);
    if (!product) throw new NotFoundError('product', id);
    return toView(product);
  }

  async list(query: { limit?: number; cursor?: string }): Promise<Page<ProductDto>> {
    return mapPage(await this.repository.list(query), toView);
  }

  /** The operations each named product offers, for the scope policy. Unknown names are absent. */
  async catalogFor(names: string[]): Promise<Map<string, Operation[]>> {
    const catalog = new Map<string, Operation[]>();
    const unseen: string[] = [];
    for (const name of names) {
      const known = this.knownOperations.get(name);
      if (known) catalog.set(name, known);
      else unseen.push(name);
    }
    if (unseen.length > 0) {
      for (const product of await this.repository.findByNames(unseen)) {
        this.knownOperations.set(product.name, product.operations);
        catalog.set(product.name, product.operations);
      }
    }
    return catalog;
  }
}

function toView(product: ProductEntity): ProductDto {
  return { id: product.id, name: product.name, operations: product.operations, createdAt: product.createdAt.toISOString() };
}
