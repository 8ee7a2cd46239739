/* eslint-disable @typescript-eslint/no-require-imports, no-undef -- a CommonJS file jest loads as is */
// jest's testSequencer (jest.config.ts): the files that take longest start
// first, so with two workers no long file is left to run alone at the end.
//
// jest orders by each file's duration in its cache when it has one; a fresh
// machine (CI) has none and jest falls back to file size, which put a minute-long
// file last. The list below is the slowest files, slowest first, measured in two
// full runs with `npx jest --json` (each file's endTime - startTime); a file
// missing from it only loses its head start.
const Sequencer = require('@jest/test-sequencer').default;

const SLOWEST = [
  'test/rotation/crash.e2e-spec.ts',
  'test/shutdown.e2e-spec.ts',
  'test/properties/http-boundary.e2e-spec.ts',
  'test/recovery/worker-crash.e2e-spec.ts',
  'test/auth/roles.e2e-spec.ts',
  'test/cli/agc.e2e-spec.ts',
  'test/revocation/bulk-revocation.e2e-spec.ts',
  'test/security/hostile-input.e2e-spec.ts',
  'test/revocation/resilience.e2e-spec.ts',
  'test/enforcement/replicas.e2e-spec.ts',
  'test/rotation/replicas.e2e-spec.ts',
  'test/console/browser.e2e-spec.ts',
  'test/console/pages.e2e-spec.ts',
  'test/startup.e2e-spec.ts',
];

class SlowFirstSequencer extends Sequencer {
  sort(tests) {
    const rank = (test) => {
      const at = SLOWEST.findIndex((suffix) => test.path.endsWith(suffix));
      return at < 0 ? SLOWEST.length : at;
    };
    // Array.prototype.sort is stable: the rest keep jest's own order.
    return [...super.sort(tests)].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = SlowFirstSequencer;
