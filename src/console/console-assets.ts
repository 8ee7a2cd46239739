import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Where `npm run build` puts the console's files (scripts/build-console.ts): dist/console
 * under the repository root. The root is the nearest folder with a
 * package.json above this file, which is src/console in a ts-node or jest run
 * and dist/src/console in the built service.
 */
export function consoleAssetsDir(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return join(from, 'console');
    dir = parent;
  }
  return join(dir, 'dist', 'console');
}
