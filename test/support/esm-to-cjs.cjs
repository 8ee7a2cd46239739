/* eslint-disable @typescript-eslint/no-require-imports, no-undef -- a CommonJS file jest loads as is */
/**
 * A jest transformer for the few ESM-only packages the app requires: Node
 * (>= 20.19) loads them with require() natively, jest's module loader does
 * not. content-disposition 3 is one (@bull-board/fastify's @fastify/static
 * needs it). esbuild rewrites the module to CommonJS; nothing else changes.
 */
const { transformSync } = require('esbuild');

module.exports = {
  process(source, path) {
    const { code, map } = transformSync(source, { format: 'cjs', loader: 'js', sourcefile: path, sourcemap: 'inline', target: 'node20' });
    return { code, map };
  },
};
