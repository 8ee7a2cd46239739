import { Module } from '@nestjs/common';

import { CredentialChangeNotifier } from './credential-change-notifier.service';
import { CredentialChangesRepository } from './credential-changes.repository';

/**
 * The notifier alone, for the modules whose transactions change credentials
 * (gateways' outbox, rotation): it depends on nothing, so they can import it
 * without importing the enforcement module that depends on them.
 */
@Module({
  providers: [CredentialChangeNotifier, CredentialChangesRepository],
  exports: [CredentialChangeNotifier],
})
export class CredentialChangesModule {}
