import { PHASE_DEADLINE_SHARE, ShutdownPhase, ShutdownStep } from './shutdown-step';

export interface ShutdownReport {
  elapsedMs: number;
  /** Steps that did not close cleanly, with how many things each gave up on. */
  abandoned: Array<{ name: string; count: number }>;
}

const PHASES = [ShutdownPhase.Intake, ShutdownPhase.Work, ShutdownPhase.Flush, ShutdownPhase.Connections];

/**
 * Runs the steps phase by phase. A phase ends when all its steps have closed
 * or at its deadline (its share of `timeoutMs` from `startedAt`), whichever
 * comes first; a step still closing then is forced and counted as abandoned,
 * and the next phase starts. So the whole run ends within 95 % of `timeoutMs`
 * whatever the steps wait on.
 */
export async function runShutdown(steps: ShutdownStep[], timeoutMs: number, now: () => number, startedAt = now()): Promise<ShutdownReport> {
  const abandoned = new Map<string, number>();
  for (const phase of PHASES) {
    const deadline = startedAt + timeoutMs * PHASE_DEADLINE_SHARE[phase];
    const outcomes = await Promise.all(steps.filter((s) => s.phase === phase).map((s) => closeBy(s, deadline - now())));
    for (const { step, abandonedCount } of outcomes) {
      if (abandonedCount > 0) abandoned.set(step.name, (abandoned.get(step.name) ?? 0) + abandonedCount);
    }
  }
  return { elapsedMs: Math.round(now() - startedAt), abandoned: [...abandoned].map(([name, count]) => ({ name, count })) };
}

/** `shutdown: complete in 40 ms`, or `shutdown: abandoned redis workers (2), redis connections (1) after 6000 ms`. */
export function describeShutdown(report: ShutdownReport): string {
  if (report.abandoned.length === 0) return `shutdown: complete in ${report.elapsedMs} ms`;
  const parts = report.abandoned.map((a) => `${a.name} (${a.count})`);
  return `shutdown: abandoned ${parts.join(', ')} after ${report.elapsedMs} ms`;
}

async function closeBy(step: ShutdownStep, remainingMs: number): Promise<{ step: ShutdownStep; abandonedCount: number }> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = Symbol('timed out');
  const closing = Promise.resolve()
    .then(() => step.close())
    .then(
      (abandonedCount) => Math.min(step.count, Math.max(0, abandonedCount ?? 0)),
      // A close that throws did not close cleanly: what it was closing is left to the process exit.
      () => step.count,
    );
  const result = await Promise.race([
    closing,
    new Promise<typeof timedOut>((resolve) => {
      timer = setTimeout(() => resolve(timedOut), Math.max(0, remainingMs));
    }),
  ]);
  clearTimeout(timer);
  if (result !== timedOut) return { step, abandonedCount: result };
  try {
    step.force?.();
  } catch {
    // Forcing is best effort; the step is counted as abandoned either way.
  }
  return { step, abandonedCount: step.count };
}
