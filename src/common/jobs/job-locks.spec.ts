import { loadConfig } from '../../config/load-config';
import { jobLockOptions, MAX_STALLED_COUNT } from './job-locks';

const valid = { ADMIN_TOKEN: 'a'.repeat(32), LOCAL_STORE_KEY: Buffer.alloc(32, 7).toString('base64') };

describe('job lock settings', () => {
  it('hold every job by a 5 s lock, look for lapsed ones every second and sweep for missing jobs every 5 s by default', () => {
    const config = loadConfig(valid);
    expect(config.jobs).toEqual({ lockMs: 5000, stalledCheckMs: 1000, sweepIntervalMs: 5000 });
    expect(config.delivery.lockMs).toBe(5000);
    expect(config.rotation.jobLockMs).toBe(5000);
    expect(config.rotation.staleAfterMs).toBe(2000);
    expect(jobLockOptions(config.jobs)).toEqual({
      lockDuration: 5000,
      lockRenewTime: 2500,
      stalledInterval: 1000,
      maxStalledCount: MAX_STALLED_COUNT,
    });
  });

  it('let a queue override the lock, and never check less often than a lock lasts', () => {
    const config = loadConfig({ ...valid, JOB_LOCK_MS: '8000', JOB_STALLED_CHECK_MS: '3000', DELIVERY_LOCK_MS: '1000' });
    expect(config.delivery.lockMs).toBe(1000);
    expect(config.rotation.jobLockMs).toBe(8000);
    expect(jobLockOptions(config.jobs)).toMatchObject({ lockDuration: 8000, lockRenewTime: 4000, stalledInterval: 3000 });
    expect(jobLockOptions(config.jobs, config.delivery.lockMs)).toMatchObject({
      lockDuration: 1000,
      lockRenewTime: 500,
      stalledInterval: 1000,
    });
  });

  it.each([
    [{ JOB_LOCK_MS: '100' }, 'JOB_LOCK_MS must be at least 500'],
    [{ JOB_STALLED_CHECK_MS: 'often' }, 'JOB_STALLED_CHECK_MS must be a number'],
    [{ ROTATION_JOB_LOCK_MS: '10' }, 'ROTATION_JOB_LOCK_MS must be at least 500'],
  ])('refuse %j with a message naming the variable', (override, message) => {
    expect(() => loadConfig({ ...valid, ...override })).toThrow(message);
  });
});
