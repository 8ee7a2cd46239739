import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';

import { AfterCommit } from '../common/db/after-commit';
import { ALL_CREDENTIALS, CredentialChangesRepository } from './credential-changes.repository';

/** What this replica does with a committed change at once: ids, or ALL_CREDENTIALS alone. */
export type LocalChangeHandler = (ids: readonly string[]) => void;

/** Ids one notification names at most (a payload holds under 8000 bytes; 100 ids of 37 bytes fit). */
const IDS_PER_NOTIFICATION = 100;
/** Past this many ids one change tells listeners to drop their whole cache instead. */
const MAX_NAMED_IDS = 2000;

/**
 * Tells every replica's verification cache (src/enforcement/verification-cache.ts)
 * that these credentials changed: call it inside the transaction that changes
 * what a gateway must enforce (issue, approve, update, each rotation step,
 * retirement, revocation). The event outbox calls it for every event it
 * publishes about a credential, which covers each of those.
 *
 * The NOTIFY reaches every replica, this one too, a few milliseconds after the
 * commit. This replica's own caches are also told right at commit (through
 * the handler its listener registers), before the changing call answers: a
 * caller that revoked a credential never sees its key or tokens accepted by
 * the replica that answered the revoke.
 */
@Injectable()
export class CredentialChangeNotifier {
  private local: LocalChangeHandler | null = null;

  constructor(
    private readonly repository: CredentialChangesRepository,
    private readonly afterCommit: AfterCommit,
  ) {}

  /** The replica's listener (src/enforcement/credential-change-listener.service.ts) registers itself. */
  onLocalChange(handler: LocalChangeHandler): void {
    this.local = handler;
  }

  async notify(em: EntityManager, credentialIds: readonly string[]): Promise<void> {
    const ids = [...new Set(credentialIds)];
    if (ids.length === 0) return;
    const local = this.local;
    if (ids.length > MAX_NAMED_IDS) {
      await this.repository.notify(em, [ALL_CREDENTIALS]);
      if (local) this.afterCommit.run(em, () => local([ALL_CREDENTIALS]));
      return;
    }
    if (local) this.afterCommit.run(em, () => local(ids));
    const payloads: string[] = [];
    for (let i = 0; i < ids.length; i += IDS_PER_NOTIFICATION) payloads.push(ids.slice(i, i + IDS_PER_NOTIFICATION).join(','));
    await this.repository.notify(em, payloads);
  }
}
