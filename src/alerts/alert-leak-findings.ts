import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import type { RequestContext } from '../auth/actor';
import { LeakFindings, RetiredKeyFinding } from '../leaks/leak-findings';
import { AlertsRepository } from './alerts.repository';
import { AlertsService } from './alerts.service';

/**
 * A leak report naming a retired or revoked version (src/leaks/leak-findings.ts)
 * raises `retired_key_used` (high, like one seen in use) in the report's
 * transaction, raised by the reporter; the report answers the alert's id.
 * Evidence: the version, its state, the SHA-256 and where it was found.
 */
@Injectable()
export class AlertLeakFindings extends LeakFindings {
  constructor(
    private readonly alerts: AlertsService,
    private readonly repository: AlertsRepository,
  ) {
    super();
  }

  async retiredKeyReported(em: EntityManager, ctx: RequestContext, finding: RetiredKeyFinding): Promise<{ alertId: string } | null> {
    const [credential] = await this.repository.credentialFacts([finding.credentialId]);
    if (!credential) return null;
    const { alert } = await this.alerts.raiseIn(em, ctx, {
      type: 'retired_key_used',
      credentialId: credential.id,
      agentId: credential.agentId,
      ownerId: credential.ownerId,
      at: finding.reportedAt,
      count: 1,
      evidence: {
        via: 'leak_report',
        version: finding.version,
        versionState: finding.versionState,
        secretSha256: finding.secretSha256,
        source: finding.source,
        url: finding.url,
        credentialStatus: credential.status,
      },
    });
    return { alertId: alert.id };
  }
}
