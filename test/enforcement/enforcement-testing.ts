import { CredentialChangeListener } from '../../src/enforcement/credential-change-listener.service';
import { VerificationCache } from '../../src/enforcement/verification-cache';
import type { TestApp } from '../support/test-app';

/** Looks inside a test app's enforcement module: the cache's size and state, and the listening connection. */
export class EnforcementTesting {
  constructor(private readonly t: TestApp) {}

  cachedHashes(): number {
    return this.t.app.get(VerificationCache).size.hashes;
  }

  cacheEnabled(): boolean {
    return this.t.app.get(VerificationCache).enabled;
  }

  /**
   * Until the returned function is called, the listener ignores every NOTIFY it
   * hears (the connection stays up, so the caches stay on): what a replica sees
   * when its own notification is still on the way.
   */
  muteNotifications(): () => void {
    const listener = this.t.app.get(CredentialChangeListener) as unknown as { onNotification: (message: unknown) => void };
    const spy = jest.spyOn(listener, 'onNotification').mockImplementation(() => undefined);
    return () => spy.mockRestore();
  }

  dropListener(): void {
    this.t.app.get(CredentialChangeListener).dropConnectionForTest();
  }
}
