/**
 * Module boundaries (see STYLE.md): a feature module uses another only through
 * the services it exports. It never reaches into another module's entities,
 * repositories, controllers, processors or DTOs.
 */
const FEATURES = '(auth|audit|inventory|secret-stores|rotation|gateways|revocation|reviews|health)';

module.exports = {
  forbidden: [
    {
      name: 'no-foreign-entities',
      comment: "A module must not use another module's entities or repositories; call its exported service.",
      severity: 'error',
      from: { path: `^src/${FEATURES}/` },
      to: {
        path: `^src/${FEATURES}/(entities/|.*\\.repository\\.ts$)`,
        pathNot: ['^src/$1/'],
      },
    },
    {
      name: 'no-foreign-internals',
      comment: "Controllers, processors, crons and DTOs are a module's own; other modules import services.",
      severity: 'error',
      from: { path: `^src/${FEATURES}/` },
      to: {
        path: `^src/${FEATURES}/(.*\\.controller\\.ts|.*\\.processor\\.ts|.*\\.cron\\.ts|dto/)`,
        pathNot: ['^src/$1/'],
      },
    },
    {
      name: 'common-is-a-leaf',
      comment: 'common/ and config/ are used by features; they never depend on a feature.',
      severity: 'error',
      from: { path: '^src/(common|config)/' },
      to: { path: `^src/${FEATURES}/` },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-process-env-outside-config',
      comment: 'Only config/ and main.ts read the environment (checked by eslint too).',
      severity: 'ignore',
      from: {},
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '\\.spec\\.ts$' },
  },
};
