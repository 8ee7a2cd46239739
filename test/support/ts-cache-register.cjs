/**
 * A require hook for running the service from its TypeScript sources in a
 * child process (test/support/child-app.ts, the benchmarks): what ts-node's
 * transpile-only mode does, plus an on-disk cache keyed by each file's
 * content, so a restarted child (kill, start again) boots in seconds instead
 * of transpiling the whole app again. TypeScript itself is only loaded on a
 * cache miss.
 */
'use strict';
/* global require, process */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS require hook, loaded with node -r */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CACHE_DIR = path.join(os.tmpdir(), 'agc-ts-cache');
const COMPILER_OPTIONS = {
  module: 1, // CommonJS
  target: 9, // ES2022
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  useDefineForClassFields: false,
  esModuleInterop: true,
  allowSyntheticDefaultImports: true,
  resolveJsonModule: true,
  sourceMap: false,
  inlineSourceMap: true,
};
let typescript = null;

fs.mkdirSync(CACHE_DIR, { recursive: true });

require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha256').update(`v1\0${filename}\0${source}`).digest('hex');
  const cached = path.join(CACHE_DIR, `${key}.js`);
  let output;
  try {
    output = fs.readFileSync(cached, 'utf8');
  } catch {
    typescript ??= require('typescript');
    output = typescript.transpileModule(source, { compilerOptions: COMPILER_OPTIONS, fileName: filename }).outputText;
    const temporary = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, output);
    fs.renameSync(temporary, cached);
  }
  module._compile(output, filename);
};
