import type { CredentialEntity } from './entities/credential.entity';

/**
 * A credential as the inventory hands it out (its row, without the ORM
 * relations): what CredentialsService's locks return to revocation, rotation
 * and reviews. Other modules name this type, never the entity.
 */
export type Credential = Omit<CredentialEntity, 'agent' | 'owner'>;
