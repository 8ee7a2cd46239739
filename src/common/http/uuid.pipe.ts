import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { isUUID } from 'class-validator';

import { InvalidInputError } from '../errors/domain-error';

/** Path ids must be UUIDs: a 400 naming the parameter, never a database error. */
@Injectable()
export class UuidPipe implements PipeTransform<string, string> {
  transform(value: string, metadata: ArgumentMetadata): string {
    if (!isUUID(value)) throw InvalidInputError.field(metadata.data ?? 'id', 'must be a UUID');
    return value.toLowerCase();
  }
}
