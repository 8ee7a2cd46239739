import { Injectable, PipeTransform } from '@nestjs/common';

import { InvalidInputError } from '../common/errors/domain-error';
import { usageBatchErrors } from './usage-event-validator';

/** A body of POST /v1/usage whose envelope is checked; its events are not yet (UsageIngestionService checks each). */
export interface UsageBatchBody {
  events: unknown[];
}

/**
 * POST /v1/usage's body: `{ events }` with 1..1,000 items, or a 400 naming
 * `events`. The parameter is typed by an interface, so the global
 * StrictValidationPipe leaves the body alone: its walk over every key and
 * string of a 1,000-event body, and class-transformer's copy of it, cost more
 * than the rest of the ingestion. Its rules are applied per event instead
 * (src/usage/usage-event-validator.ts), so a bad event is refused by its index.
 */
@Injectable()
export class UsageBatchPipe implements PipeTransform<unknown, UsageBatchBody> {
  transform(value: unknown): UsageBatchBody {
    const errors = usageBatchErrors(value);
    if (errors) throw new InvalidInputError(errors);
    return value as UsageBatchBody;
  }
}
