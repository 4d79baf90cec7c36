import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root, found by walking up to package.json: the same code runs from src/ under
 * tsx and from dist/src/ after the build, so a fixed '../..' would be wrong in one of them.
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'config', 'default.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('pollgate: cannot find the project root (package.json with config/default.json)');
    dir = parent;
  }
}

export const projectRoot = findRoot();
export const defaultConfigFile = join(projectRoot, 'config', 'default.json');
export const bundledConnectorsDir = join(projectRoot, 'connectors');
