/**
 * Run by test/jobs/forced-shutdown.e2e-spec.ts in a process of its own: a
 * worker holds a job past the work phase's deadline, shutdown forces it (the
 * worker's Redis connections are dropped), and only then does the job fail,
 * as a job does whose database was closed under it. Prints `event loop turns`
 * when a timer still fires after that; a process whose event loop is stuck
 * prints nothing and is killed by the test.
 */
import { JobQueues } from '../../src/common/jobs/job-queues';
import { runShutdown } from '../../src/common/shutdown/run-shutdown';
import type { AppConfig } from '../../src/config/app-config';

async function main(): Promise<void> {
  const [redisUrl, prefix] = process.argv.slice(2);
  const config = { redis: { url: redisUrl, prefix }, roles: ['worker'], jobs: { lockMs: 5_000, stalledCheckMs: 1_000 } };
  const queues = new JobQueues(config as unknown as AppConfig);
  let fail: (error: Error) => void = () => undefined;
  const taken = new Promise<void>((resolve) => {
    queues.startWorker('forced', () => {
      resolve();
      return new Promise((_, reject) => (fail = reject));
    });
  });
  await queues.queue('forced').add('held', {});
  await taken;
  const report = await runShutdown(queues.shutdownSteps(), 1_000, () => performance.now());
  process.stderr.write(`${JSON.stringify(report)}\n`);
  fail(new Error('Driver not Connected'));
  await new Promise((resolve) => setTimeout(resolve, 300));
  process.stdout.write('event loop turns\n');
  process.exit(0);
}

void main();
