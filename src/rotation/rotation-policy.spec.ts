import { expectedVersionId, rotationBackoffMs } from './rotation-policy';

describe('rotationBackoffMs', () => {
  it('doubles from the base per failure', () => {
    expect([1, 2, 3, 4].map((n) => rotationBackoffMs(n, 1000, 60_000, 0))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('never exceeds the cap, however many failures', () => {
    expect(rotationBackoffMs(7, 1000, 30_000, 0)).toBe(30_000);
    expect(rotationBackoffMs(500, 1000, 30_000, 0)).toBe(30_000);
  });

  it('takes off at most 10% as jitter, never adding any', () => {
    expect(rotationBackoffMs(1, 1000, 60_000, 1)).toBe(900);
    expect(rotationBackoffMs(1, 1000, 60_000, 0.5)).toBe(950);
    expect(rotationBackoffMs(1, 1000, 60_000, 7)).toBe(900);
  });

  it('treats zero failures like the first', () => {
    expect(rotationBackoffMs(0, 500, 60_000, 0)).toBe(500);
  });
});

describe('expectedVersionId', () => {
  it('is the version number for Vault and local, the rotation id for AWS', () => {
    expect(expectedVersionId('vault', 3, 'r-1')).toBe('3');
    expect(expectedVersionId('local', 2, 'r-1')).toBe('2');
    expect(expectedVersionId('aws', 2, '5f0c1c1e-0000-4000-8000-000000000000')).toBe('5f0c1c1e-0000-4000-8000-000000000000');
  });
});
