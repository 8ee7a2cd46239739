import { InvalidInputError } from '../common/errors/domain-error';
import { SECRET_STORE_NAMES } from '../config/app-config';
import { SecretStore, SecretStoreName } from './secret-store';

/** The configured stores by name; credentials pick one each, the default otherwise. */
export class SecretStoreRegistry {
  private readonly stores: Map<SecretStoreName, SecretStore>;

  constructor(
    stores: SecretStore[],
    readonly defaultName: SecretStoreName,
  ) {
    this.stores = new Map(stores.map((s) => [s.name, s]));
    if (!this.stores.has(defaultName)) throw new Error(`default secret store ${defaultName} is not configured`);
  }

  /** The store for a credential; a 400 naming `field` when it is unknown or not configured here. */
  resolve(name: string | undefined, field = 'secretStore'): SecretStore {
    const chosen = name ?? this.defaultName;
    if (!(SECRET_STORE_NAMES as readonly string[]).includes(chosen)) {
      throw InvalidInputError.field(field, `must be one of ${SECRET_STORE_NAMES.join(', ')}`);
    }
    const store = this.stores.get(chosen as SecretStoreName);
    if (!store) throw InvalidInputError.field(field, `names store ${chosen}, which is not configured on this service`);
    return store;
  }

  /** The store of an existing credential. Its store must still be configured. */
  get(name: SecretStoreName): SecretStore {
    const store = this.stores.get(name);
    if (!store) throw new Error(`secret store ${name} is not configured`);
    return store;
  }

  all(): SecretStore[] {
    return [...this.stores.values()];
  }
}
