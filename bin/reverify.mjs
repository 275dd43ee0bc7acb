#!/usr/bin/env node
// Runs the TypeScript sources through tsx when they are present (a clone),
// and the compiled build otherwise (the Docker image ships dist/ only). tsx
// is a devDependency: a clone installed with --omit=dev runs dist/ if built.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const built = new URL('../dist/src/cli/main.js', import.meta.url);

async function loadTsx() {
  try {
    return await import('tsx/esm/api');
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND') return null;
    throw error;
  }
}

const tsx = existsSync(source) ? await loadTsx() : null;
if (tsx) {
  tsx.register();
  await import(pathToFileURL(source).href);
} else if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  process.stderr.write(
    'reverify: neither the TypeScript sources with tsx (a devDependency: run "npm ci") nor the compiled build (run "npm run build") are here.\n',
  );
  process.exitCode = 2;
}
