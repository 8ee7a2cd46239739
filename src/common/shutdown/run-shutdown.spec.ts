import { describeShutdown, runShutdown } from './run-shutdown';
import { ShutdownPhase, ShutdownStep } from './shutdown-step';

const never = () => new Promise<void>(() => undefined);
const now = () => performance.now();

describe('the shutdown sequence', () => {
  it('runs phases in order and the steps of one phase side by side', async () => {
    const events: string[] = [];
    const step = (phase: ShutdownPhase, name: string, ms: number): ShutdownStep => ({
      phase,
      name,
      count: 1,
      close: async () => {
        events.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        events.push(`end ${name}`);
      },
    });
    const report = await runShutdown(
      [
        step(ShutdownPhase.Connections, 'redis', 1),
        step(ShutdownPhase.Work, 'workers', 20),
        step(ShutdownPhase.Intake, 'http', 1),
        step(ShutdownPhase.Work, 'sweeps', 1),
        step(ShutdownPhase.Flush, 'buffers', 1),
      ],
      5000,
      now,
    );
    expect(events).toEqual([
      'start http',
      'end http',
      'start workers',
      'start sweeps',
      'end sweeps',
      'end workers',
      'start buffers',
      'end buffers',
      'start redis',
      'end redis',
    ]);
    expect(report.abandoned).toEqual([]);
    expect(describeShutdown(report)).toMatch(/^shutdown: complete in \d+ ms$/);
  });

  it('forces a step that outlives its phase, moves on, and ends within the bound', async () => {
    const forced: string[] = [];
    const closedAfter: string[] = [];
    const started = now();
    const report = await runShutdown(
      [
        { phase: ShutdownPhase.Work, name: 'redis workers', count: 2, close: never, force: () => forced.push('redis workers') },
        { phase: ShutdownPhase.Flush, name: 'usage buffer', count: 1, close: async () => void closedAfter.push('usage buffer') },
        { phase: ShutdownPhase.Connections, name: 'postgres pool', count: 1, close: never },
      ],
      1000,
      now,
    );
    const elapsed = now() - started;
    expect(forced).toEqual(['redis workers']);
    // A stuck worker does not keep the flush from running.
    expect(closedAfter).toEqual(['usage buffer']);
    expect(report.abandoned).toEqual([
      { name: 'redis workers', count: 2 },
      { name: 'postgres pool', count: 1 },
    ]);
    // The last phase's deadline is 95 % of the bound (950 ms); what is above it is timers firing late on a busy machine.
    expect(elapsed).toBeGreaterThanOrEqual(940);
    expect(elapsed).toBeLessThan(1150);
    expect(describeShutdown(report)).toMatch(/^shutdown: abandoned redis workers \(2\), postgres pool \(1\) after \d+ ms$/);
  });

  it('counts what a step says it gave up on, and a step that throws as abandoned', async () => {
    const report = await runShutdown(
      [
        { phase: ShutdownPhase.Work, name: 'redis workers', count: 3, close: async () => 3 },
        { phase: ShutdownPhase.Connections, name: 'redis connections', count: 4, close: async () => 1 },
        { phase: ShutdownPhase.Connections, name: 'redis connections', count: 1, close: async () => 0 },
        { phase: ShutdownPhase.Connections, name: 'vault client', count: 1, close: () => Promise.reject(new Error('boom')) },
        {
          phase: ShutdownPhase.Connections,
          name: 'aws client',
          count: 1,
          close: () => {
            throw new Error('sync boom');
          },
        },
      ],
      1000,
      now,
    );
    expect(report.abandoned).toEqual([
      { name: 'redis workers', count: 3 },
      { name: 'redis connections', count: 1 },
      { name: 'vault client', count: 1 },
      { name: 'aws client', count: 1 },
    ]);
  });

  it('counts time from when the signal came, not from when the sequence started', async () => {
    // A 10 s bound, signalled 9 s ago: the intake phase's deadline (30 %, 3 s) passed long ago, so it is
    // forced at once (elapsed just over 9 s). Counted from the sequence's start it would wait 3 s more
    // (elapsed about 12 s); the 900 ms between leaves room for a loaded machine.
    const signalled = now() - 9_000;
    const forced: string[] = [];
    const report = await runShutdown(
      [{ phase: ShutdownPhase.Intake, name: 'http requests', count: 1, close: never, force: () => forced.push('http') }],
      10_000,
      now,
      signalled,
    );
    expect(forced).toEqual(['http']);
    expect(report.elapsedMs).toBeLessThan(9_900);
  });
});
