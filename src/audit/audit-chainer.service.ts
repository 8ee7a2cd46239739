import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { Clock } from '../common/clock/clock';
import { tryAdvisoryXactLock } from '../common/db/advisory-lock';
import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../common/shutdown/shutdown-step';
import { AppConfig } from '../config/app-config';
import { AuditEventRow, AuditRepository } from './audit.repository';
import { ChainedEvent, chainHash, GENESIS_HASH } from './audit-chain';

const CHAIN_LOCK = 'agent-credentials:audit-chain';
const BATCH = 1000;
/**
 * How long a poke waits for others to join its pass. Nothing waits for a
 * link (reads of the log chain what is queued first, `drain`), so a pass
 * every 100 ms links a busy service's events in a few statements a tenth of a
 * second: a pass is five statements (begin, lock, read, append, commit), and
 * at 15 ms a stream of revocations paid about one pass per seven of them.
 */
const POKE_BATCH_MS = 100;

/** An event as the chain hashes it: read back from the database, exactly as /verify will read it. */
export function chainedEventOf(row: AuditEventRow): ChainedEvent {
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    requestId: row.request_id,
    data: row.data,
  };
}

/**
 * Links committed audit events into the hash chain, in batches, one chainer at
 * a time across all processes (advisory lock). Writers never wait for it: they
 * insert their events in their own transaction and poke the chainer after
 * commit; a timer catches events other processes wrote. Each link is computed
 * from the event as stored, so the chain and /verify hash the same bytes.
 */
@Injectable()
export class AuditChainerService implements OnApplicationBootstrap, ShutdownParticipant {
  private readonly logger = new Logger(AuditChainerService.name);
  private running: Promise<void> | null = null;
  private pokedWhileRunning = false;
  /** A writer of this process committed events since the last pass began. */
  private committedSincePass = false;
  private timer: NodeJS.Timeout | null = null;
  private scheduled: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: AuditRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.poke(), this.config.audit.chainIntervalMs);
    this.timer.unref();
  }

  /** A pass in progress finishes while Postgres is still open; what it leaves, any process's chainer links later. */
  shutdownSteps(): ShutdownStep[] {
    return [
      {
        phase: ShutdownPhase.Flush,
        name: 'audit chainer',
        count: 1,
        close: async () => {
          this.stopped = true;
          if (this.timer) clearInterval(this.timer);
          if (this.scheduled) clearTimeout(this.scheduled);
          await this.running?.catch(() => undefined);
        },
      },
    ];
  }

  /**
   * Asks for a chaining pass soon; cheap to call after every commit. Pokes
   * within a few milliseconds of each other share one pass, so under load the
   * chainer links events in batches instead of one pass per request.
   * `committed`: the caller committed events (AuditService), so the pass need
   * not ask Postgres whether any are queued (the timer's pokes do ask).
   */
  poke(committed = false): void {
    if (committed) this.committedSincePass = true;
    if (this.stopped || this.scheduled) return; // a pass is about to start and will see this event
    if (this.running) {
      this.pokedWhileRunning = true;
      return;
    }
    this.scheduled = setTimeout(() => {
      this.scheduled = null;
      this.running = this.passUntilEmpty()
        .catch((error: unknown) => this.logger.warn({ err: (error as Error).message }, 'audit chaining failed; will retry'))
        .finally(() => {
          this.running = null;
          if (this.pokedWhileRunning) {
            this.pokedWhileRunning = false;
            this.poke();
          }
        });
    }, POKE_BATCH_MS);
    this.scheduled.unref();
  }

  /**
   * Links everything committed so far before returning, waiting for another
   * process's chainer if it holds the lock. Reads of the chain call this first.
   */
  async drain(timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      await this.running?.catch(() => undefined);
      const linked = await this.linkBatch();
      if (linked === 0) return;
      if (linked < 0) {
        if (performance.now() > deadline) throw new Error('the audit chainer of another process holds the lock for too long');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /**
   * Links what is queued, a batch at a time while batches come back full. A
   * batch that was not full emptied the queue as its snapshot saw it: what
   * committed since poked this process's chainer (pokedWhileRunning: the next
   * pass, which waits POKE_BATCH_MS for more) or is another process's (the
   * timer); reading the queue again at once would mostly find it empty, four
   * statements for nothing.
   */
  private async passUntilEmpty(): Promise<void> {
    const committed = this.committedSincePass;
    this.committedSincePass = false;
    if (!committed && !(await this.repository.hasUnchained())) return;
    while (!this.stopped && (await this.linkBatch()) === BATCH) {
      // a full batch: more may be queued behind it
    }
  }

  /** Links one batch. Returns how many events it linked, or -1 if another chainer holds the lock. */
  private linkBatch(): Promise<number> {
    return this.dataSource.transaction(async (em) => {
      if (!(await tryAdvisoryXactLock(em, CHAIN_LOCK))) return -1;
      const { events: queued, head } = await this.repository.queuedEvents(em, BATCH);
      if (queued.length === 0) return 0;
      let seq = head?.seq ?? 0;
      let prevHash = head?.hash ?? GENESIS_HASH;
      const chainedAt = this.clock.now().toISOString();
      const links = queued.map((row) => {
        seq += 1;
        const hash = chainHash(prevHash, chainedEventOf(row));
        const link = { seq: String(seq), event_id: row.id, prev_hash: prevHash, hash, chained_at: chainedAt };
        prevHash = hash;
        return link;
      });
      await this.repository.appendLinks(em, links);
      return links.length;
    });
  }
}
