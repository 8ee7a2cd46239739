import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';

import { fetchTimePage, Page } from '../common/pagination/pagination';
import { ProductEntity } from './entities/product.entity';

/** The products table, one method per purpose. */
@Injectable()
export class ProductsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(em: EntityManager, product: ProductEntity): Promise<void> {
    await em.insert(ProductEntity, product);
  }

  findById(id: string): Promise<ProductEntity | null> {
    return this.dataSource.getRepository(ProductEntity).findOne({ where: { id } });
  }

  findByNames(names: string[]): Promise<ProductEntity[]> {
    return this.dataSource.getRepository(ProductEntity).find({ where: { name: In(names) } });
  }

  list(query: { limit?: number; cursor?: string }): Promise<Page<ProductEntity>> {
    return fetchTimePage(this.dataSource.getRepository(ProductEntity).createQueryBuilder('p'), 'p', query, (row) => row);
  }
}
