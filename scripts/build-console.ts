import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { build } from 'esbuild';

/**
 * Builds the web console (console/src, Preact) into dist/console: one hashed
 * script and one hashed stylesheet under assets/, and index.html naming them.
 * `npm run build` runs this after `nest build`; the service serves the folder
 * at /console (src/console/console-http.ts). Nothing is loaded from elsewhere.
 */
export interface ConsoleBuild {
  outDir: string;
  script: string;
  stylesheet: string;
  scriptBytes: number;
  scriptGzipBytes: number;
}

const ROOT = join(__dirname, '..');

export async function buildConsole(outDir = join(ROOT, 'dist', 'console')): Promise<ConsoleBuild> {
  // Built beside the target, then swapped in, so a server (or a concurrent test) never sees half a build.
  const building = `${outDir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const assets = join(building, 'assets');
  mkdirSync(assets, { recursive: true });
  const result = await build({
    entryPoints: [join(ROOT, 'console', 'src', 'main.tsx')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: assets,
    entryNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
  const script = outputs.find((file) => file.endsWith('.js'));
  const stylesheet = outputs.find((file) => file.endsWith('.css'));
  if (!script || !stylesheet) throw new Error(`console build: expected a script and a stylesheet, got ${outputs.join(', ')}`);
  const template = readFileSync(join(ROOT, 'console', 'src', 'index.html'), 'utf8');
  writeFileSync(
    join(building, 'index.html'),
    template.replace('%SCRIPT%', `/console/assets/${script}`).replace('%STYLESHEET%', `/console/assets/${stylesheet}`),
  );
  const code = readFileSync(join(assets, script));
  const built = { outDir, script, stylesheet, scriptBytes: code.length, scriptGzipBytes: gzipSync(code, { level: 9 }).length };
  // The same sources give the same hashed names: keep the folder in place, so a server (or another test file's browser)
  // reading it meanwhile never sees it swapped.
  if (sameBuild(outDir, building, [script, stylesheet])) {
    rmSync(building, { recursive: true, force: true });
    return built;
  }
  const old = `${outDir}.old-${process.pid}`;
  if (existsSync(outDir)) renameSync(outDir, old);
  renameSync(building, outDir);
  rmSync(old, { recursive: true, force: true });
  return built;
}

function sameBuild(outDir: string, building: string, assets: string[]): boolean {
  const index = join(outDir, 'index.html');
  return (
    existsSync(index) &&
    readFileSync(index, 'utf8') === readFileSync(join(building, 'index.html'), 'utf8') &&
    assets.every((name) => existsSync(join(outDir, 'assets', name)))
  );
}

if (require.main === module) {
  buildConsole().then(
    (built) => {
      process.stdout.write(
        `console: ${built.outDir} (${built.script} ${built.scriptBytes} bytes, ${(built.scriptGzipBytes / 1024).toFixed(1)} KiB gzipped)\n`,
      );
    },
    (error: unknown) => {
      process.stderr.write(`console build failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
