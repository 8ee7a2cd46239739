import { AsyncLocalStorage } from 'node:async_hooks';

import { CompactSign, generateKeyPair } from 'jose';

import { outsideRequestContext } from './outside-request-context';

describe('outsideRequestContext', () => {
  it('runs the work without the caller’s store, and the caller resumes with it', async () => {
    const storage = new AsyncLocalStorage<{ requestId: string }>();
    const { privateKey } = await generateKeyPair('ES256');
    await storage.run({ requestId: 'req-1' }, async () => {
      const seen = await outsideRequestContext(async () => {
        const before = storage.getStore();
        await new CompactSign(new Uint8Array([1, 2, 3])).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
        return [before, storage.getStore()];
      });
      expect(seen).toEqual([undefined, undefined]);
      expect(storage.getStore()).toEqual({ requestId: 'req-1' });
    });
  });

  it('passes on the work’s result and its rejection', async () => {
    await expect(outsideRequestContext(async () => 42)).resolves.toBe(42);
    await expect(outsideRequestContext(() => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
  });
});
