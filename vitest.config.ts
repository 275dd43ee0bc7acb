import { defineConfig } from 'vitest/config';

/**
 * The suite runs twice over the queue: the `redis` project runs every test
 * file with QUEUE_BACKEND=redis, the `postgres` project runs the files whose
 * work goes through the queues again with QUEUE_BACKEND=postgres (BullMQ's
 * PostgreSQL backend, in each file's own database).
 */
const QUEUE_DEPENDENT = [
  'test/campaigns/**/*.test.ts',
  'test/accounts/sweep-jobs.test.ts',
  'test/accounts/sweep-cli.test.ts',
  'test/foundation/schedules.test.ts',
  'test/foundation/send-limiter.test.ts',
  'test/foundation/worker-shutdown.test.ts',
  'test/foundation/queue-backend.test.ts',
  'test/foundation/job-contract.test.ts',
  'test/http/**/*.test.ts',
  'test/browser/**/*.test.ts',
  'test/verification/requests.test.ts',
  'test/verification/request-cli.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/helpers/leak-check.ts'],
    // Test files run in parallel on their own databases and queue prefixes;
    // two at a time matches this machine's two cores.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/helpers/count-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'redis', include: ['test/**/*.test.ts', 'src/**/*.test.ts'], provide: { queueBackend: 'redis' } },
      },
      {
        extends: true,
        test: { name: 'postgres', include: QUEUE_DEPENDENT, provide: { queueBackend: 'postgres' } },
      },
    ],
  },
});
