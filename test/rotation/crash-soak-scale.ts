/** The scale test/rotation/crash.soak-spec.ts runs test/rotation/crash.e2e-spec.ts at, unless the environment says otherwise. */
process.env.ROTATION_CRASH_CREDENTIALS ??= '200';
process.env.ROTATION_CRASH_RANDOM_KILLS ??= '10';
