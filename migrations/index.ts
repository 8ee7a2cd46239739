import { Foundation1795452365038 } from './1795452365038-Foundation';
import { AuditAppendFunction1795453500000 } from './1795453500000-AuditAppendFunction';
import { GatewaysAndRevocation1795453600000 } from './1795453600000-GatewaysAndRevocation';
import { Reviews1795454300622 } from './1795454300622-Reviews';
import { Rotations1795454596356 } from './1795454596356-Rotations';
import { AuditChainer1795455900000 } from './1795455900000-AuditChainer';
import { RotationFromSecretSha2561795461400000 } from './1795461400000-RotationFromSecretSha256';
import { JobSweepIndexes1795462400000 } from './1795462400000-JobSweepIndexes';
import { CredentialReadViews1795463000000 } from './1795463000000-CredentialReadViews';

/** Every migration, in order. Listed explicitly so the app, the CLI and tests run the same set. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const MIGRATIONS: Function[] = [
  Foundation1795452365038,
  AuditAppendFunction1795453500000,
  GatewaysAndRevocation1795453600000,
  Reviews1795454300622,
  Rotations1795454596356,
  AuditChainer1795455900000,
  RotationFromSecretSha2561795461400000,
  JobSweepIndexes1795462400000,
  CredentialReadViews1795463000000,
];
