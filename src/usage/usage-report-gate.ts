import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

import { UsageRecorderService } from '../enforcement/usage-recorder.service';

/** Route config (`@RouteConfig(HELD_UNTIL_USAGE_ROOM)`) of POST /v1/usage: its body is not read while another report is being handled or the usage buffer is full. */
export const HELD_UNTIL_USAGE_ROOM = { heldUntilUsageRoom: true } as const;

/**
 * Lets one usage report at a time past the point where its body is read, and
 * holds it back before that while the recorder's per-call records are at
 * their bound (UsageRecorderService.roomOrFailure): the others wait in their
 * sockets, not as parsed 1,000-event bodies in the heap. A report's turn
 * ends when its answer has left (or its connection closed).
 *
 * Why: reports parsed side by side each lived across the others' database
 * reads (the gateway, the batch's credentials), longer than the young
 * generation holds an object; their bodies and event objects were promoted,
 * then garbage, and they were most of what the old generation grew by during
 * an ingestion, which V8 let the heap grow to (bench:usage's rss_peak). The
 * handling of one report is mostly synchronous work on the one JS thread, so
 * taking them in turn costs little throughput. whenRoom still holds the bound
 * after parsing and answers the 503 while the sink is failing.
 */
@Injectable()
export class UsageReportGate implements OnModuleInit {
  /** Resolves when the report holding the turn is done; reports wait on it in order of arrival. */
  private turn: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: HttpAdapterHost,
    private readonly recorder: UsageRecorderService,
  ) {}

  onModuleInit(): void {
    const fastify = this.host.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    fastify.addHook('preParsing', async (request, reply, payload) => {
      const config = request.routeOptions.config as Partial<typeof HELD_UNTIL_USAGE_ROOM> | undefined;
      if (!config?.heldUntilUsageRoom) return payload;
      await this.nextTurn(reply.raw);
      await this.recorder.roomOrFailure();
      return payload;
    });
  }

  /** Waits for the reports ahead, then holds the turn until `response` closes (sent, failed or abandoned). */
  private async nextTurn(response: NodeJS.EventEmitter & { readonly closed?: boolean }): Promise<void> {
    const ahead = this.turn;
    let done!: () => void;
    this.turn = new Promise<void>((resolve) => (done = resolve));
    await ahead;
    if (response.closed) done();
    else response.once('close', done);
  }
}
