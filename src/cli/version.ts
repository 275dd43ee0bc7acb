import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * reverify's version, from its package.json: the nearest one above this file
 * named "reverify" (src/cli/ in a clone, dist/src/cli/ in the image).
 */
export function packageVersion(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'reverify' && manifest.version) return manifest.version;
    }
    if (dir === path.dirname(dir)) throw new Error(`no package.json of reverify above ${from}`);
  }
}
