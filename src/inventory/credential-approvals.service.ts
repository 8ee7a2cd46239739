import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { ConflictError } from '../common/errors/domain-error';
import { RandomSource, randomUnit } from '../common/random/random-source';
import { EventOutboxService } from '../gateways/event-outbox.service';
import { SecretStore } from '../secret-stores/secret-store';
import { SecretStoreRegistry } from '../secret-stores/secret-store.registry';
import type { Credential } from './credential';
import { CredentialSecretsService } from './credential-secrets.service';
import { applyChanges } from './credential-state';
import { credentialTermsEvent, describeCredential, toCredentialView } from './credential-views';
import { CredentialsRepository } from './credentials.repository';
import { CredentialsService } from './credentials.service';
import type { CredentialDto } from './dto/credential.dto';
import { assertNotRequester, assertNotRevoked } from './inventory-errors';

/**
 * The second-person workflow: a credential issued with a delete/admin scope
 * waits as `pending_approval`, and a change that adds one waits as the
 * credential's `pendingChange`, until an admin other than the requester
 * approves (the secret is created then) or rejects it.
 */
@Injectable()
export class CredentialApprovalsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly credentials: CredentialsService,
    private readonly repository: CredentialsRepository,
    private readonly stores: SecretStoreRegistry,
    private readonly secrets: CredentialSecretsService,
    private readonly audit: AuditService,
    private readonly outbox: EventOutboxService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /**
   * Second-person approval of a pending credential (its secret is created now)
   * or of a pending change. The approver must be an admin other than the requester.
   */
  async approve(ctx: RequestContext, id: string): Promise<CredentialDto> {
    let written: { store: SecretStore; credential: Credential } | null = null;
    try {
      return await this.dataSource.transaction(async (em) => {
        const credential = await this.credentials.lockForChange(em, id);
        assertNotRevoked(credential);
        const now = this.clock.now();
        if (credential.status === 'pending_approval') {
          assertNotRequester(ctx.actor, credential.requestedBy);
          const store = this.stores.get(credential.secretStore);
          await this.secrets.writeFirstVersion(store, credential, now);
          written = { store, credential };
          credential.status = 'active';
          credential.approvedBy = ctx.actor.tokenId;
          credential.approvedAt = now;
          credential.updatedAt = now;
          await this.repository.saveApproved(em, credential);
          await this.outbox.publish(em, credentialTermsEvent('credential.issued', credential));
          await this.audit.record(em, ctx, {
            action: 'credential.approved',
            targetType: 'credential',
            targetId: id,
            data: { scopes: credential.scopes, requestedBy: credential.requestedBy, secretVersion: credential.secretVersion },
          });
          return toCredentialView(credential);
        }
        const change = credential.pendingChange;
        if (credential.status === 'active' && change) {
          assertNotRequester(ctx.actor, change.requestedBy);
          const before = describeCredential(credential);
          applyChanges(credential, change, now, () => randomUnit(this.random));
          credential.pendingChange = null;
          await this.repository.saveChanges(em, credential);
          await this.outbox.publish(em, credentialTermsEvent('credential.updated', credential));
          await this.audit.record(em, ctx, {
            action: 'credential.change_approved',
            targetType: 'credential',
            targetId: id,
            data: { requestedBy: change.requestedBy, before, after: describeCredential(credential) },
          });
          return toCredentialView(credential);
        }
        throw new ConflictError('NOTHING_TO_APPROVE', 'This credential has nothing awaiting approval.');
      });
    } catch (error) {
      // The transaction did not commit, so a secret written for it must not survive.
      const orphan = written as { store: SecretStore; credential: Credential } | null;
      if (orphan) await this.secrets.discard(orphan.store, orphan.credential);
      throw error;
    }
  }

  /** Rejects a pending credential (it becomes `rejected`) or a pending change (it is dropped). */
  async reject(ctx: RequestContext, id: string): Promise<CredentialDto> {
    return this.dataSource.transaction(async (em) => {
      const credential = await this.credentials.lockForChange(em, id);
      assertNotRevoked(credential);
      const now = this.clock.now();
      if (credential.status === 'pending_approval') {
        credential.status = 'rejected';
        credential.updatedAt = now;
        await this.repository.markRejected(em, id, now);
        await this.audit.record(em, ctx, {
          action: 'credential.rejected',
          targetType: 'credential',
          targetId: id,
          data: { requestedBy: credential.requestedBy, scopes: credential.scopes },
        });
        return toCredentialView(credential);
      }
      const change = credential.pendingChange;
      if (credential.status === 'active' && change) {
        credential.pendingChange = null;
        credential.updatedAt = now;
        await this.repository.savePendingChange(em, id, null, now);
        await this.audit.record(em, ctx, {
          action: 'credential.change_rejected',
          targetType: 'credential',
          targetId: id,
          data: { change },
        });
        return toCredentialView(credential);
      }
      throw new ConflictError('NOTHING_TO_REJECT', 'This credential has nothing awaiting approval.');
    });
  }
}
