/**
 * The order a process stops in. Each phase starts when the one before it has
 * finished or run out of time; the steps of one phase run side by side.
 */
export enum ShutdownPhase {
  /** Take no new work: the HTTP server stops accepting; requests in flight finish. */
  Intake = 0,
  /** Stop doing work: workers finish (or give back) their jobs, sweeps and timers stop. */
  Work = 1,
  /** Write out what is buffered in memory while every connection is still open. */
  Flush = 2,
  /** Close connections: job queues, Redis, Postgres, outbound HTTP agents. */
  Connections = 3,
}

/**
 * By when each phase must be done, as a share of SHUTDOWN_TIMEOUT_MS from the
 * signal. The last 5 % is left for Nest's own hooks and writing the log line.
 */
export const PHASE_DEADLINE_SHARE: Record<ShutdownPhase, number> = {
  [ShutdownPhase.Intake]: 0.3,
  [ShutdownPhase.Work]: 0.6,
  [ShutdownPhase.Flush]: 0.8,
  [ShutdownPhase.Connections]: 0.95,
};

export interface ShutdownStep {
  phase: ShutdownPhase;
  /** What it closes, as the shutdown log line names it: `redis workers`. */
  name: string;
  /** How many things it closes (read when the step ends); the log line says `redis workers (2)` when it gives up on them. */
  readonly count: number;
  /**
   * Closes cleanly. Resolves with how many of the `count` things it had to
   * abandon instead (dropped, not closed; 0 or nothing when all closed).
   */
  close(): Promise<number | void>;
  /**
   * Called when `close` has not finished by its phase's deadline: drop what
   * is left at once (destroy sockets, disconnect). Must not wait on anything.
   */
  force?(): void;
}

/**
 * A provider with something to close at shutdown. The shutdown sequence finds
 * every provider that has `shutdownSteps()` (as Nest finds lifecycle hooks) and
 * runs the steps in phase order within SHUTDOWN_TIMEOUT_MS. Use it instead of
 * Nest's onModuleDestroy / onApplicationShutdown for anything that can wait on
 * the network: those hooks have no deadline and run in module order.
 */
export interface ShutdownParticipant {
  shutdownSteps(): ShutdownStep[];
}

export function isShutdownParticipant(value: unknown): value is ShutdownParticipant {
  return typeof value === 'object' && value !== null && typeof (value as Partial<ShutdownParticipant>).shutdownSteps === 'function';
}
