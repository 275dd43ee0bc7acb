import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);

describe('reverify --version', () => {
  it('prints the version of package.json, also as -v and with --json', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-v']) {
      const { stdout } = await exec(process.execPath, ['bin/reverify.mjs', flag]);
      expect(stdout).toBe(`${version}\n`);
    }
    const { stdout } = await exec(process.execPath, ['bin/reverify.mjs', '--version', '--json']);
    expect(JSON.parse(stdout)).toEqual({ version });
  }, 60_000);
});
