import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

/**
 * SQL lives in repositories (`*.repository.ts`) and migrations; src/common/db
 * holds the few database helpers (advisory locks, prepared statements, the
 * placeholder numbering). ESLint rather than dependency-cruiser: every service
 * imports typeorm legitimately (EntityManager for transactions), so the line
 * to draw is the call (`.query(`, a query builder, an EntityManager's
 * methods), which only the syntax tree shows.
 */
const NO_SQL_OUTSIDE_REPOSITORIES = [
  {
    selector: 'CallExpression[callee.property.name=/^(query|createQueryBuilder|getRepository)$/]',
    message: 'SQL and query builders belong in a *.repository.ts (or a migration); call a repository method.',
  },
  {
    selector: "CallExpression[callee.object.name=/^(em|manager|entityManager)$/], CallExpression[callee.object.property.name='manager']",
    message: 'An EntityManager is for passing to a repository method, not for querying here.',
  },
];

/** `$${n}` arithmetic at a call site: take placeholders from SqlParams (src/common/db/sql-params.ts). */
const NO_HAND_NUMBERED_PLACEHOLDERS = [
  {
    selector: 'TemplateElement[tail=false][value.raw=/\\$$/]',
    message: 'Number SQL placeholders with SqlParams (src/common/db/sql-params.ts), not $${...} at the call site.',
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.local/**', '.ci/.cache/**', 'migrations/*-*.ts', '*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // Imports in one order everywhere (`eslint --fix` sorts them), so diffs show only real changes.
    plugins: { 'simple-import-sort': simpleImportSort },
    rules: { 'simple-import-sort/imports': 'error', 'simple-import-sort/exports': 'error' },
  },
  {
    // Nothing but config/ (and the CLI's own cli-config.ts) reads the environment, and time comes from the injected Clock (src/common/clock/clock.ts).
    files: ['src/**/*.ts'],
    ignores: ['src/config/**', 'src/main.ts', 'src/cli/cli-config.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration from AppConfig, not process.env.' },
        { object: 'Date', property: 'now', message: 'Use the injected Clock so tests can move time.' },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.repository.ts', 'src/common/db/**'],
    rules: {
      'no-restricted-syntax': ['error', ...NO_SQL_OUTSIDE_REPOSITORIES, ...NO_HAND_NUMBERED_PLACEHOLDERS],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/common/db/prepared-query'], message: 'Prepared statements run in repositories.' }] },
      ],
    },
  },
  {
    files: ['src/**/*.repository.ts'],
    rules: { 'no-restricted-syntax': ['error', ...NO_HAND_NUMBERED_PLACEHOLDERS] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'migrations/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  // Formatting is Prettier's (`npm run format`; `prettier --check` in `npm run lint`): no eslint rule argues with it.
  prettier,
);
