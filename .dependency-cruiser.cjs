/**
 * Module boundaries: a feature module uses another only through the services
 * it exports. It never reaches into another module's entities, repositories,
 * controllers, processors or DTOs. (Reading process.env outside config/ is
 * eslint's rule: dependency-cruiser sees imports, not globals.)
 */
const FEATURES =
  '(auth|audit|inventory|secret-stores|rotation|gateways|revocation|reviews|leaks|health|console|enforcement|usage|alerts|oauth)';

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
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '\\.spec\\.ts$' },
  },
};
