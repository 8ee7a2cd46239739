import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

import { UsageRecorderService } from '../enforcement/usage-recorder.service';

/** Route config (`@RouteConfig(HELD_UNTIL_USAGE_ROOM)`) of POST /v1/usage: its body is not read while the usage buffer is full. */
export const HELD_UNTIL_USAGE_ROOM = { heldUntilUsageRoom: true } as const;

/**
 * Holds a usage report back before its body is read while the recorder's
 * per-call records are at their bound (UsageRecorderService.roomOrFailure):
 * the report waits in the socket, not as a parsed 1,000-event body in the
 * heap. Reports used to be parsed first and then wait for room
 * (UsageRecorderService.whenRoom) for as long as a flush takes, and the
 * bodies that waited outlived the young generation: promoted, then garbage,
 * they were the largest part of what the old generation grew by during an
 * ingestion, and V8 let the heap grow accordingly (bench:usage's rss_peak).
 * whenRoom still holds the bound after parsing (reports let through at once
 * may overshoot it) and answers the 503 while the sink is failing.
 */
@Injectable()
export class UsageReportGate implements OnModuleInit {
  constructor(
    private readonly host: HttpAdapterHost,
    private readonly recorder: UsageRecorderService,
  ) {}

  onModuleInit(): void {
    const fastify = this.host.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    fastify.addHook('preParsing', async (request, _reply, payload) => {
      const config = request.routeOptions.config as Partial<typeof HELD_UNTIL_USAGE_ROOM> | undefined;
      if (config?.heldUntilUsageRoom) await this.recorder.roomOrFailure();
      return payload;
    });
  }
}
