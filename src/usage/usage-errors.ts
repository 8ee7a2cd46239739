import { NotFoundError } from '../common/errors/domain-error';

export class CredentialNotFoundError extends NotFoundError {
  constructor(id: string) {
    super('credential', id);
  }
}
