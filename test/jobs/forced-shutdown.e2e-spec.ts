import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { TEST_REDIS_URL } from '../support/env';
import { deleteRedisPrefix } from '../support/redis-prefix';

const ROOT = join(__dirname, '..', '..');

/**
 * A job still running when shutdown forces its worker (src/common/jobs/job-queues.ts)
 * must not take the process with it: once the worker's connections are dropped,
 * BullMQ retries reporting the job's outcome for as long as the connection is
 * closed, without waiting between tries while the worker closes, so a job that
 * finished after the force held the event loop for good (no timer, no I/O, not
 * even the shutdown's own exit). Run in a child process, which the test kills
 * if it stops turning.
 */
describe('a job that ends after its worker was forced to close', () => {
  const prefix = `t_${randomBytes(6).toString('hex')}`;
  afterAll(() => deleteRedisPrefix(prefix));

  it('leaves the event loop turning', async () => {
    const child = spawn(
      process.execPath,
      ['-r', join(ROOT, 'test/support/ts-cache-register.cjs'), join(__dirname, 'forced-job-child.ts'), TEST_REDIS_URL, prefix],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d.toString()));
    child.stderr.on('data', (d) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(killer);
    expect({ code, stdout, forced: /"abandoned":\[\{"name":"redis workers"/.test(stderr) }).toEqual({
      code: 0,
      stdout: 'event loop turns\n',
      forced: true,
    });
  }, 60_000);
});
