import type { DeliveryTarget } from './entities/delivery.entity';

export enum GatewayQueue {
  Delivery = 'webhook-delivery',
}

export enum DeliveryJobName {
  Drain = 'drain',
}

/**
 * A drain: the one job of a target (a gateway, or the notification webhook)
 * that sends its pending deliveries, batch after batch, until none is due.
 * `dueBy` and `wakeAt` are set when the drain went to sleep until its next
 * retry was due: `dueBy` is that retry's time by the service's clock,
 * `wakeAt` the moment (epoch ms) the queue's delay ends. A drain woken at
 * `wakeAt` treats what is due by `dueBy` as due; one woken earlier (a new
 * event) counts the time left (delivery-queue.ts, scheduleNow).
 */
export interface DrainJob {
  /** A gateway id, or `notification`. */
  target: string;
  dueBy?: string;
  wakeAt?: number;
}

/** The drain target of the notification webhook. */
export const NOTIFICATION_TARGET = 'notification';

/** What the queue needs to know of a delivery row. */
export interface DeliveryRef {
  id: string;
  eventId: string;
  target: DeliveryTarget;
  gatewayId: string | null;
  nextAttemptAt?: Date;
}

/** The drain target a delivery belongs to: its gateway's id, or `notification`. */
export function drainTargetOf(ref: Pick<DeliveryRef, 'target' | 'gatewayId'>): string {
  return ref.target === 'gateway' && ref.gatewayId ? ref.gatewayId : NOTIFICATION_TARGET;
}

/** Deterministic, one per target: `drain-<gatewayId>` (or `drain-notification`; BullMQ refuses a custom id with one colon). */
export function drainJobId(target: string): string {
  return `drain-${target}`;
}

/** The job that carries a delivery: its target's drain (there is no job per delivery). */
export function deliveryJobId(ref: Pick<DeliveryRef, 'eventId' | 'target' | 'gatewayId'>): string {
  return drainJobId(drainTargetOf(ref));
}
