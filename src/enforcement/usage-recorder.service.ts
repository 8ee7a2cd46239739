import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { yieldToLoop } from '../common/async/yield-to-loop';
import { HOUR_MS } from '../common/clock/clock';
import { DependencyUnavailableError } from '../common/errors/domain-error';
import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../common/shutdown/shutdown-step';
import { AppConfig } from '../config/app-config';
import { CredentialsService } from '../inventory/credentials.service';
import { UsageEventBatch, UsageEventSink } from '../usage/usage-event-sink';
import type { UsageObserver } from './usage-observer';
import type { UsageRecord } from './usage-record';
import { UsageIpRollupRow, UsageRollupRow, UsageRollupsRepository } from './usage-rollups.repository';

export type { UsageRecord } from './usage-record';

/** Distinct rollup rows a failed flush keeps for the next one at most; past it the oldest hours are dropped (and counted). */
const MAX_RETAINED_ROWS = 1_000_000;
/** Per-call records a failing sink keeps for the next write at most; past it the newest are dropped (and counted). */
const MAX_RETAINED_EVENTS = 1_000_000;
/** Per-call records waiting for the sink past which a gateway's report waits for a flush (whenRoom). */
export const MAX_BUFFERED_EVENTS = 40_000;

/**
 * Usage recording off the answer's path: a verification adds its call to
 * in-memory counters (one per credential, hour, scope, outcome and deny code,
 * and one per credential, hour and client address) and returns; a timer
 * writes them to the hourly rollups and their daily sums every
 * USAGE_FLUSH_INTERVAL_MS (sooner once USAGE_FLUSH_MAX_ENTRIES rows wait), with
 * `lastUsedAt` / `lastUsedIp`, in one transaction. A write that fails puts its
 * counts back for the next (the daily sums are derived from them again). The
 * shutdown sequence's flush phase writes what is left, while Postgres is still
 * open, after the HTTP server has stopped taking calls: a clean stop loses none.
 */
@Injectable()
export class UsageRecorderService implements OnApplicationBootstrap, ShutdownParticipant {
  private readonly logger = new Logger('UsageRecorder');
  private rollups = new Map<string, UsageRollupRow>();
  private byIp = new Map<string, UsageIpRollupRow>();
  private lastUse = new Map<string, { at: Date; ip: string | null }>();
  /** Per-call records waiting for the sink, in its own compact form (UsageEventSink.batch), not as objects. */
  private events: UsageEventBatch;
  /** Calls the observers saw since the last flush took their batches. */
  private observed = 0;
  private readonly observers: UsageObserver[] = [];
  /** Observers whose `see` threw since the last flush (logged once). */
  private readonly failedObservers = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private flushSoon = false;
  private failing = false;
  private sinkFailing = false;
  /** Calls recorded and calls written, since start (tests and the benchmark read them). */
  recorded = 0;
  written = 0;
  dropped = 0;
  droppedEvents = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: UsageRollupsRepository,
    private readonly credentials: CredentialsService,
    private readonly config: AppConfig,
    private readonly sink: UsageEventSink,
  ) {
    this.events = sink.batch();
  }

  onApplicationBootstrap(): void {
    if (!this.config.roles.includes('api')) return;
    this.timer = setInterval(() => void this.flush(), this.config.enforcement.usageFlushIntervalMs);
    this.timer.unref();
  }

  /** Registers a watcher of recorded usage (usage-observer.ts); it sees every batch from the next flush on. */
  addObserver(observer: UsageObserver): void {
    this.observers.push(observer);
  }

  record(record: UsageRecord): void {
    const atMs = record.at.getTime();
    const hourMs = Math.floor(atMs / HOUR_MS) * HOUR_MS;
    const allowed = record.code === 'VALID';
    const scope = record.scope ?? '';
    const denyCode = allowed ? '' : record.code;
    const key = `${record.credentialId}|${hourMs}|${scope}|${denyCode}`;
    const row = this.rollups.get(key);
    if (row) row.calls++;
    else {
      this.rollups.set(key, {
        credentialId: record.credentialId,
        hour: new Date(hourMs),
        scope,
        outcome: allowed ? 'allowed' : 'denied',
        denyCode,
        calls: 1,
      });
    }
    if (record.ip !== null) {
      const ipKey = `${record.credentialId}|${hourMs}|${record.ip}`;
      const ipRow = this.byIp.get(ipKey);
      if (ipRow) {
        ipRow.calls++;
        if (!allowed) ipRow.denied++;
      } else {
        this.byIp.set(ipKey, {
          credentialId: record.credentialId,
          hour: new Date(hourMs),
          ip: record.ip,
          calls: 1,
          denied: allowed ? 0 : 1,
        });
      }
    }
    if (record.authenticated) {
      const last = this.lastUse.get(record.credentialId);
      if (!last) this.lastUse.set(record.credentialId, { at: record.at, ip: record.ip });
      else if (last.at.getTime() <= atMs) {
        last.at = record.at;
        last.ip = record.ip;
      }
    }
    if (record.call) this.events.add(record.call);
    for (const observer of this.observers) {
      try {
        observer.see(record);
      } catch (error) {
        // Never the verification's answer: logged once per flush and observer.
        if (!this.failedObservers.has(observer.name))
          this.logger.warn(`usage observer ${observer.name} failed on a call (${(error as Error).message})`);
        this.failedObservers.add(observer.name);
      }
    }
    if (this.observers.length) this.observed++;
    this.recorded++;
    if (!this.flushSoon && this.rollups.size + this.byIp.size + this.events.size >= this.config.enforcement.usageFlushMaxEntries) {
      this.flushSoon = true;
      setImmediate(() => void this.flush());
    }
  }

  /**
   * Resolves once fewer than MAX_BUFFERED_EVENTS per-call records wait for the
   * sink: a caller that can wait (a gateway's report, not a verification) is
   * held back while the database catches up, so the buffer stays bounded. The
   * wait ends when the next write takes the buffer (not when it ends), so
   * reports are read while it writes. A sink that is failing is a 503 (retry
   * later), not a wait.
   */
  async whenRoom(): Promise<void> {
    await this.untilRoom(true);
  }

  /**
   * As whenRoom, but resolves at once while the sink is failing (whenRoom then
   * answers the 503); never rejects. For a caller that holds a report back
   * before reading it (src/usage/usage-report-gate.ts).
   */
  async roomOrFailure(): Promise<void> {
    await this.untilRoom(false);
  }

  private async untilRoom(failing: boolean): Promise<void> {
    while (this.events.size >= MAX_BUFFERED_EVENTS) {
      if (this.sinkFailing) {
        if (!failing) return;
        throw new DependencyUnavailableError('USAGE_STORE_UNAVAILABLE', 'Usage records cannot be written now; report them again later.');
      }
      // A write in progress first; then the next one, which takes the buffer as it starts (writeBatch).
      if (this.flushing) await this.flushing;
      else void this.flush();
    }
  }

  /**
   * Writes what is buffered (waits for a write in progress first). Resolves when the buffer as it was is written or put back
   * and the observers' follow-up work on it is done (the next write does not wait for that work).
   */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.isEmpty()) {
      this.flushing = this.writeBatch().finally(() => (this.flushing = null));
      await this.flushing;
    }
    await Promise.all(this.observers.map((observer) => observer.settled().catch(() => undefined)));
  }

  private isEmpty(): boolean {
    return this.rollups.size === 0 && this.byIp.size === 0 && this.lastUse.size === 0 && this.events.size === 0 && this.observed === 0;
  }

  get pending(): number {
    let calls = 0;
    for (const row of this.rollups.values()) calls += row.calls;
    return calls;
  }

  shutdownSteps(): ShutdownStep[] {
    return [
      {
        phase: ShutdownPhase.Flush,
        name: 'usage buffer',
        get count() {
          return 1;
        },
        close: async () => {
          if (this.timer) clearInterval(this.timer);
          this.timer = null;
          // A write that fails is retried until the phase's deadline forces the step.
          for (;;) {
            await this.flush();
            if (this.isEmpty()) return 0;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        },
      },
    ];
  }

  private async writeBatch(): Promise<void> {
    this.flushSoon = false;
    const rollups = this.rollups;
    const byIp = this.byIp;
    const lastUse = this.lastUse;
    const events = this.events;
    this.rollups = new Map();
    this.byIp = new Map();
    this.lastUse = new Map();
    this.events = this.sink.batch();
    this.observed = 0;
    this.failedObservers.clear();
    const observed = this.observers.map((observer) => observer.take());
    // Observers see the batch before its lastUsedAt is written (dormancy is judged against the previous use).
    await this.notifyObservers(observed);
    let calls = 0;
    for (const row of rollups.values()) calls += row.calls;
    // The per-call records go to their own store first (it may not be Postgres); a failure keeps them for the next write.
    try {
      await this.sink.write(events);
      events.release();
      this.sinkFailing = false;
    } catch (error) {
      if (!this.sinkFailing) this.logger.warn(`per-call usage write failed (${(error as Error).message}); kept for the next write`);
      this.sinkFailing = true;
      // Ahead of the records that came meanwhile, in the order they came.
      events.append(this.events);
      this.droppedEvents += events.truncate(MAX_RETAINED_EVENTS);
      this.events = events;
    }
    try {
      // Parameters first, a slice at a time between verifications (usage-rollups.repository.ts), then one short transaction.
      const prepared = await this.repository.prepare([...rollups.values()], [...byIp.values()]);
      await yieldToLoop();
      const uses = [...lastUse].map(([id, use]) => ({ id, ...use }));
      await this.dataSource.transaction(async (em) => {
        await this.repository.write(em, prepared);
        await this.credentials.recordLastUse(em, uses);
      });
      this.written += calls;
      if (this.failing) this.logger.log('usage written again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.logger.warn(`usage write failed (${(error as Error).message}); kept for the next write`);
      this.failing = true;
      this.putBack(rollups, byIp, lastUse);
    }
  }

  /** Each observer's batch (taken with the recorder's own buffer, so both hold the same calls), one observer after another. */
  private async notifyObservers(batches: unknown[]): Promise<void> {
    for (let i = 0; i < this.observers.length; i++) {
      const observer = this.observers[i]!;
      if (batches[i] === null) continue;
      try {
        await observer.observe(batches[i]);
      } catch (error) {
        this.logger.warn(`usage observer ${observer.name} failed on a batch (${(error as Error).message})`);
      }
    }
  }

  private putBack(
    rollups: Map<string, UsageRollupRow>,
    byIp: Map<string, UsageIpRollupRow>,
    lastUse: Map<string, { at: Date; ip: string | null }>,
  ): void {
    for (const [key, row] of rollups) {
      const now = this.rollups.get(key);
      if (now) now.calls += row.calls;
      else if (this.rollups.size < MAX_RETAINED_ROWS) this.rollups.set(key, row);
      else this.dropped += row.calls;
    }
    for (const [key, row] of byIp) {
      const now = this.byIp.get(key);
      if (now) {
        now.calls += row.calls;
        now.denied += row.denied;
      } else if (this.byIp.size < MAX_RETAINED_ROWS) this.byIp.set(key, row);
    }
    for (const [id, use] of lastUse) {
      const now = this.lastUse.get(id);
      if (!now || now.at < use.at) this.lastUse.set(id, use);
    }
  }
}
