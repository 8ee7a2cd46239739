import { Foundation1795452365038 } from './1795452365038-Foundation';
import { AuditAppendFunction1795453500000 } from './1795453500000-AuditAppendFunction';
import { GatewaysAndRevocation1795453600000 } from './1795453600000-GatewaysAndRevocation';
import { Reviews1795454300622 } from './1795454300622-Reviews';
import { Rotations1795454596356 } from './1795454596356-Rotations';
import { AuditChainer1795455900000 } from './1795455900000-AuditChainer';
import { RotationFromSecretSha2561795461400000 } from './1795461400000-RotationFromSecretSha256';
import { JobSweepIndexes1795462400000 } from './1795462400000-JobSweepIndexes';
import { CredentialReadViews1795463000000 } from './1795463000000-CredentialReadViews';
import { GatewayTokens1796520337699 } from './1796520337699-GatewayTokens';
import { LeakLookupIndexes1796520537485 } from './1796520537485-LeakLookupIndexes';
import { GatewayDrains1796520566842 } from './1796520566842-GatewayDrains';
import { OAuth1796520577103 } from './1796520577103-OAuth';
import { ConsoleSessions1796520632425 } from './1796520632425-ConsoleSessions';
import { Enforcement1796521235683 } from './1796521235683-Enforcement';
import { GatewayEventLog1796522481126 } from './1796522481126-GatewayEventLog';
import { UsageEvents1796523711398 } from './1796523711398-UsageEvents';
import { RevokedTokensByCredential1796530738779 } from './1796530738779-RevokedTokensByCredential';
import { Alerts1796530745461 } from './1796530745461-Alerts';
import { ReviewUsage1796530753747 } from './1796530753747-ReviewUsage';
import { UsageDaily1796534811799 } from './1796534811799-UsageDaily';
import { ChainProbeIndex1796537322396 } from './1796537322396-ChainProbeIndex';
import { DropDeliveriesPendingIndex1796552076948 } from './1796552076948-DropDeliveriesPendingIndex';
import { DeliveriesWithoutForeignKeys1796570231230 } from './1796570231230-DeliveriesWithoutForeignKeys';
import { SettledDeliveryIndexes1796571097246 } from './1796571097246-SettledDeliveryIndexes';

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
  GatewayTokens1796520337699,
  LeakLookupIndexes1796520537485,
  GatewayDrains1796520566842,
  OAuth1796520577103,
  ConsoleSessions1796520632425,
  Enforcement1796521235683,
  GatewayEventLog1796522481126,
  UsageEvents1796523711398,
  RevokedTokensByCredential1796530738779,
  Alerts1796530745461,
  ReviewUsage1796530753747,
  UsageDaily1796534811799,
  ChainProbeIndex1796537322396,
  DropDeliveriesPendingIndex1796552076948,
  DeliveriesWithoutForeignKeys1796570231230,
  SettledDeliveryIndexes1796571097246,
];
