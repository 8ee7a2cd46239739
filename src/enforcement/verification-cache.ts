import { type EnforcedCredential, versionsOf } from './enforced-credential';

/** What the cache knows of a key hash: the credential it belongs to, or that it belongs to none. */
export type CachedAnswer = { kind: 'found'; credential: EnforcedCredential } | { kind: 'unknown' };

/**
 * A replica's memory of presented key hashes (SHA-256 hex), kept exact by
 * invalidation rather than by time:
 *
 * - a credential's entry (one per version hash) is dropped when a change of it
 *   is notified (src/enforcement/credential-change-listener.service.ts);
 * - an unknown hash is remembered only until any credential changes: a new
 *   version's hash appears only through a notified change (issue, approve,
 *   rotation), so every notification drops all of them; they are also capped;
 * - `epoch` counts invalidations. A load that started before one may have read
 *   the state that changed, so its result is answered but not kept.
 *
 * While the listening connection is down the cache is off (`enabled` false):
 * nothing can tell it what changed.
 */
export class VerificationCache {
  private readonly byHash = new Map<string, EnforcedCredential>();
  /** The same entries by credential id, to drop all of a credential's hashes (they are its versions, versionsOf). */
  private readonly byCredential = new Map<string, EnforcedCredential>();
  private unknown = new Set<string>();
  private epochValue = 0;
  private enabledValue = false;

  constructor(private readonly maxUnknown: number) {}

  get epoch(): number {
    return this.epochValue;
  }

  get enabled(): boolean {
    return this.enabledValue;
  }

  get size(): { credentials: number; hashes: number; unknown: number } {
    return { credentials: this.byCredential.size, hashes: this.byHash.size, unknown: this.unknown.size };
  }

  get(sha256: string): CachedAnswer | undefined {
    if (!this.enabledValue) return undefined;
    const credential = this.byHash.get(sha256);
    if (credential) return { kind: 'found', credential };
    if (this.unknown.has(sha256)) return { kind: 'unknown' };
    return undefined;
  }

  /** Keeps a load's answer if no invalidation happened since `epoch` (read before the load started). */
  put(sha256: string, answer: CachedAnswer, epoch: number): void {
    if (!this.enabledValue || epoch !== this.epochValue) return;
    if (answer.kind === 'unknown') {
      if (this.unknown.size >= this.maxUnknown) this.unknown = new Set();
      this.unknown.add(sha256);
      return;
    }
    const { credential } = answer;
    this.dropCredential(credential.credentialId);
    for (const version of versionsOf(credential)) this.byHash.set(version.sha256, credential);
    this.byCredential.set(credential.credentialId, credential);
  }

  /** These credentials changed. */
  invalidate(credentialIds: readonly string[]): void {
    this.epochValue++;
    for (const id of credentialIds) this.dropCredential(id);
    if (this.unknown.size) this.unknown = new Set();
  }

  /** Forgets everything; `enabled` says whether to cache again (the listening connection is up) or not. */
  reset(enabled: boolean): void {
    this.epochValue++;
    this.byHash.clear();
    this.byCredential.clear();
    this.unknown = new Set();
    this.enabledValue = enabled;
  }

  private dropCredential(id: string): void {
    const credential = this.byCredential.get(id);
    if (!credential) return;
    for (const version of versionsOf(credential)) this.byHash.delete(version.sha256);
    this.byCredential.delete(id);
  }
}
