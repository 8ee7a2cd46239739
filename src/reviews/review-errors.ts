import { ConflictError } from '../common/errors/domain-error';

export class CampaignClosedError extends ConflictError {
  constructor(id: string) {
    super('CAMPAIGN_CLOSED', `Campaign ${id} is closed; its items can no longer be decided.`);
  }
}

export class ItemAlreadyDecidedError extends ConflictError {
  constructor(id: string, status: string) {
    super('ITEM_ALREADY_DECIDED', `Review item ${id} is already ${status}; a decision is final.`);
  }
}

export class CredentialRevokedElsewhereError extends ConflictError {
  constructor(credentialId: string) {
    super(
      'CREDENTIAL_ALREADY_REVOKED',
      `Credential ${credentialId} was revoked outside this review; the item now records that and needs no decision.`,
    );
  }
}

export class ItemsPendingError extends ConflictError {
  constructor(pending: number) {
    super('ITEMS_PENDING', `${pending} of your items in this campaign are still pending; decide them before signing off.`);
  }
}

export class AlreadySignedOffError extends ConflictError {
  constructor() {
    super('ALREADY_SIGNED_OFF', 'This owner has already signed off this campaign.');
  }
}

export class NothingToSignOffError extends ConflictError {
  constructor() {
    super('NOTHING_TO_SIGN_OFF', 'This owner has no items in this campaign.');
  }
}
