import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);

describe('reverify --version', () => {
  it('prints the version of package.json, also as -v and with --json', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    const [plain, json] = await Promise.all([
      exec(process.execPath, ['bin/reverify.mjs', '--version']),
      exec(process.execPath, ['bin/reverify.mjs', '-v', '--json']),
    ]);
    expect(plain.stdout).toBe(`${version}\n`);
    expect(JSON.parse(json.stdout)).toEqual({ version });
  }, 60_000);
});
