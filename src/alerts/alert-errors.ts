import { ConflictError } from '../common/errors/domain-error';

/** 409: the alert is resolved; a resolved alert changes no more (a new sighting opens a new alert). */
export class AlertResolvedError extends ConflictError {
  constructor(id: string) {
    super('ALERT_RESOLVED', `Alert ${id} is resolved; it cannot change any more.`);
  }
}
