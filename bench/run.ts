import { readdir } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchModule, BenchResult } from './types.js';

/**
 * Runs every benchmark in bench/ (or those named on the command line:
 * `npm run bench -- sweep webhook`) and prints one table of figures against
 * their limits. Copy the table into bench/RESULTS.md with the date.
 */
const here = fileURLToPath(new URL('.', import.meta.url));
const support = new Set(['run.ts', 'types.ts']);

async function main(): Promise<number> {
  const wanted = process.argv.slice(2);
  const files = (await readdir(here)).filter((file) => file.endsWith('.ts') && !support.has(file) && !file.startsWith('_')).sort();
  const selected = wanted.length > 0 ? files.filter((file) => wanted.includes(file.replace(/\.ts$/, ''))) : files;
  if (selected.length === 0) {
    console.error(`no benchmark matches ${wanted.join(', ')}; available: ${files.map((f) => f.replace(/\.ts$/, '')).join(', ')}`);
    return 2;
  }
  const rows: Array<BenchResult & { bench: string }> = [];
  for (const file of selected) {
    const bench = file.replace(/\.ts$/, '');
    console.error(`[bench] ${bench} …`);
    const module = (await import(pathToFileURL(`${here}${file}`).href)) as BenchModule;
    for (const result of await module.run()) rows.push({ bench, ...result });
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`\nMachine: ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}\n`);
  console.log('| bench | measured | figure | limit | ratio | pass |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const row of rows) {
    console.log(`| ${row.bench} | ${row.name} | ${row.figure} | ${row.limit} | ${row.ratio.toFixed(2)} | ${row.pass ? 'yes' : 'NO'} |`);
  }
  for (const row of rows.filter((r) => r.notes)) console.log(`\n- ${row.bench} / ${row.name}: ${row.notes}`);
  return rows.every((row) => row.pass) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
