import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';

import { TableRepository } from '../common/db/table-repository';
import type { Page } from '../common/pagination/pagination';
import { ProductEntity } from './entities/product.entity';

/** The products table, one method per purpose. */
@Injectable()
export class ProductsRepository extends TableRepository<ProductEntity> {
  constructor(@InjectDataSource() dataSource: DataSource) {
    super(dataSource, ProductEntity, 'p');
  }

  findByNames(names: string[]): Promise<ProductEntity[]> {
    return this.dataSource.getRepository(ProductEntity).find({ where: { name: In(names) } });
  }

  list(query: { limit?: number; cursor?: string }): Promise<Page<ProductEntity>> {
    return this.page(query);
  }
}
