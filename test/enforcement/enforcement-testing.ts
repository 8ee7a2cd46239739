import { randomUUID } from 'node:crypto';

import { API_TOKEN_CHANGES_CHANNEL } from '../../src/auth/api-token-cache';
import { CredentialChangeListener } from '../../src/enforcement/credential-change-listener.service';
import { CREDENTIAL_CHANGES_CHANNEL } from '../../src/enforcement/credential-changes.repository';
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

  /**
   * Resolves once the listener has handled every NOTIFY committed before this call. A change's NOTIFY reaches
   * the listener some time after the change answered; handling it drops cache entries, and a load that
   * overlaps it is not kept (src/common/cache/notified-cache.ts). A test that looks at what is cached waits
   * for this first, so a late NOTIFY from its own setup (creating a credential publishes a gateway event,
   * which notifies) cannot empty the cache under it. Postgres delivers one session's notifications in commit order, so hearing a marker sent now on each
   * channel means everything sent earlier was heard.
   */
  async heardEarlierChanges(timeoutMs = 10_000): Promise<void> {
    type Message = { payload?: string };
    const listener = this.t.app.get(CredentialChangeListener) as unknown as { onNotification: (message: Message) => void };
    const original = listener.onNotification.bind(listener);
    const markers = new Set([`probe-${randomUUID()}`, `probe-${randomUUID()}`]);
    const [credentialMarker, tokenMarker] = [...markers];
    let heard!: () => void;
    const allHeard = new Promise<void>((resolve) => (heard = resolve));
    const spy = jest.spyOn(listener, 'onNotification').mockImplementation((message: Message) => {
      original(message);
      if (message.payload && markers.delete(message.payload) && markers.size === 0) heard();
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the listener did not hear its probe notifications')), timeoutMs);
    });
    try {
      await this.t.dataSource.query('SELECT pg_notify($1, $2), pg_notify($3, $4)', [
        CREDENTIAL_CHANGES_CHANNEL,
        credentialMarker,
        API_TOKEN_CHANGES_CHANNEL,
        tokenMarker,
      ]);
      await Promise.race([allHeard, timeout]);
    } finally {
      clearTimeout(timer);
      spy.mockRestore();
    }
  }

  dropListener(): void {
    this.t.app.get(CredentialChangeListener).dropConnectionForTest();
  }
}
