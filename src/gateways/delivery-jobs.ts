import type { DeliveryTarget } from './entities/delivery.entity';

export enum GatewayQueue {
  Delivery = 'webhook-delivery',
}

export enum DeliveryJobName {
  Deliver = 'deliver',
}

export interface DeliveryJob {
  deliveryId: string;
}

/** What the queue needs to know of a delivery row. */
export interface DeliveryRef {
  id: string;
  eventId: string;
  target: DeliveryTarget;
  gatewayId: string | null;
  nextAttemptAt?: Date;
}

/** Deterministic: `deliver:<eventId>:<gatewayId>` (`notification` in place of a gateway id for the notification target). */
export function deliveryJobId(ref: Pick<DeliveryRef, 'eventId' | 'target' | 'gatewayId'>): string {
  return `deliver:${ref.eventId}:${ref.target === 'gateway' ? ref.gatewayId : ref.target}`;
}

/**
 * A delivery attempt failed in a way worth retrying; the worker's backoff
 * strategy turns this into BullMQ's delay, so the job id stays the same.
 */
export class RetryLaterError extends Error {
  constructor(
    readonly delayMs: number,
    reason: string,
  ) {
    super(`${reason}; next attempt in ${delayMs} ms`);
    this.name = 'RetryLaterError';
  }
}
