import type { EntityManager } from 'typeorm';

import type { RequestContext } from '../auth/actor';

/** A leak report naming a version no gateway accepts any more: retired after its grace period, or of a revoked credential. */
export interface RetiredKeyFinding {
  credentialId: string;
  version: number | null;
  versionState: 'retired' | 'revoked';
  secretSha256: string;
  source: string | null;
  url: string | null;
  reportedAt: Date;
}

/**
 * Where a report of a retired or revoked key goes besides the audit log
 * (`leak.retired_key_reported`): the seam for the alerts module, which raises
 * `retired_key_used` from it and answers the alert's id (the report's
 * `alertId`). Called inside the report's transaction. Bound in leaks.module.ts
 * to src/alerts/alert-leak-findings.ts.
 */
export abstract class LeakFindings {
  abstract retiredKeyReported(em: EntityManager, ctx: RequestContext, finding: RetiredKeyFinding): Promise<{ alertId: string } | null>;
}
