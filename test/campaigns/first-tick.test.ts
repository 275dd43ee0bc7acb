import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignCommand } from '../../src/cli/commands/campaign.js';
import { startProcessing } from '../../src/app/processing.js';
import { useTestEnv } from '../helpers/env.js';
import { eligiblePeople, insertPeople, waitFor } from './helpers.js';

/**
 * A campaign created where no worker reads its queue (a worker started with
 * another QUEUE_PREFIX or QUEUE_BACKEND, or none) used to stay `scheduled`
 * forever without a word. `campaign create` and `campaign show` now say so.
 */
const env = useTestEnv();
const createFlags = ['--name', 'first tick', '--segment', 'unverified-role-holders', '--per-day', '2', '--schedule', '0 0 * * *', '--json'];

/** Runs a campaign command in this process, capturing what it prints on stdout and stderr. */
async function run(...args: string[]): Promise<{ json: Record<string, unknown>; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    expect(await campaignCommand.run(args)).toBe(0);
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
  return { json: JSON.parse(out.join('')) as Record<string, unknown>, stderr: err.join('') };
}

const saved = { ...process.env };
beforeAll(async () => {
  Object.assign(process.env, env.env());
  await insertPeople(env.db, eligiblePeople('tick', 3));
});
afterAll(() => {
  process.env = saved;
});

describe('a campaign no worker picks up', () => {
  const noWorker = `no worker is reading queue prefix ${env.queuePrefix} on backend ${env.queueBackend}`;

  it('create says no worker reads its queue prefix and backend, on stderr and in --json', async () => {
    const { json, stderr } = await run('create', ...createFlags);
    expect(json.status).toBe('scheduled');
    expect(json.warning).toContain(noWorker);
    expect(json.warning).toContain('waits until one does');
    expect(stderr).toContain(`reverify: warning: ${noWorker}`);
    await run('cancel', String(json.id), '--json');
  });

  it('show says the first tick was not taken once it is over a minute late', async () => {
    const startsAt = new Date(Date.now() - 2 * 60_000).toISOString();
    const created = await run('create', ...createFlags, '--starts-at', startsAt);
    const { json, stderr } = await run('show', String(created.json.id), '--json');
    expect(json).toMatchObject({ status: 'scheduled' });
    expect(json.warning).toContain(`its first tick, due at ${startsAt}, has not been taken`);
    expect(json.warning).toContain(noWorker);
    expect(stderr).toContain('has not been taken');
    await run('cancel', String(created.json.id), '--json');
  });

  it('says nothing when a worker reads the queue, and the campaign starts', async () => {
    const app = env.app();
    const workers = await startProcessing(app);
    for (const worker of workers.workers) env.trackWorker(worker);
    try {
      const created = await run('create', ...createFlags);
      expect(created.json.warning).toBeUndefined();
      expect(created.stderr).toBe('');
      const id = String(created.json.id);
      await waitFor('the first tick', async () => (await run('show', id, '--json')).json.status === 'running');
      const shown = await run('show', id, '--json');
      expect(shown.json.warning).toBeUndefined();
      await run('cancel', id, '--json');
    } finally {
      await workers.close(5_000);
      await app.close();
    }
  });
});
