/**
 * `npm run test:soak`: test/rotation/crash.e2e-spec.ts at full scale, 200
 * rotations (half on the local store, half on Vault) under the same kills at
 * each step and at random. The environment is read when that file loads, so
 * it is set first (an environment given on the command line wins).
 */
import './crash-soak-scale';
import './crash.e2e-spec';
