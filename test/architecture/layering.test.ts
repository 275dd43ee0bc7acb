import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderCycles, folderGraph, importsOf, longFunctions, ROOT, sourceFiles } from './source-graph.js';

/**
 * The house rules a newcomer relies on, checked over the source itself:
 * folders that never import each other in a circle, modules short enough to
 * read in one sitting, functions short enough to name.
 */
const product = sourceFiles(['src', 'jobs']);

describe('architecture', () => {
  it('has no run-time import cycle between folders of src/ and jobs/', () => {
    expect(folderCycles(folderGraph(product))).toEqual([]);
  });

  it('keeps every source module under 300 lines', () => {
    const long = product.filter((file) => readFileSync(path.join(ROOT, file), 'utf8').split('\n').length > 300);
    expect(long).toEqual([]);
  });

  it('keeps every function in src/ and jobs/ within 60 lines', () => {
    expect(product.flatMap((file) => longFunctions(file, 60))).toEqual([]);
  });

  it('keeps tests, the benchmarks and the chaos suite apart: tests import no bench or chaos code', () => {
    const reaching = sourceFiles(['test'], { withTests: true }).filter((file) => importsOf(file).some((imported) => imported.startsWith('bench/') || imported.startsWith('chaos/')));
    expect(reaching).toEqual([]);
  });

  it('finds a cycle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['src/a', new Set(['src/b'])],
      ['src/b', new Set(['src/c'])],
      ['src/c', new Set(['src/a'])],
      ['src/d', new Set(['src/a'])],
    ]);
    expect(folderCycles(graph)).toEqual([['src/a', 'src/b', 'src/c']]);
  });
});
