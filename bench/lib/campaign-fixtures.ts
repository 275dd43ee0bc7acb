import { spawn, type ChildProcess } from 'node:child_process';
import type { App } from '../../src/app/app.js';
import { insertCampaign } from '../../src/campaigns/campaigns.js';
import { planCampaign } from '../../src/campaigns/planner.js';
import type { Db } from '../../src/db/connect.js';
import { freePort } from '../../src/dev/ports.js';

/** Campaign fixtures and small helpers shared by the campaign benchmark's parts (bench/campaign.ts). */

/** BENCH_CAMPAIGN_COOLDOWN=off: campaigns created as with --ignore-cooldown (an A/B of the cooldown check's cost). */
const COOLDOWN_DAYS = process.env.BENCH_CAMPAIGN_COOLDOWN === 'off' ? null : 30;

export async function newCampaign(db: Db, name: string, perDay = 200, schedule = '0 * * * *'): Promise<string> {
  const now = new Date();
  const campaign = await insertCampaign(
    db,
    { name, template: 'reverify-email', segment: 'unverified-role-holders', perDay, schedule, startsAt: now, allowExternalLinks: false, eligibleAtCreate: 0, cooldownDays: COOLDOWN_DAYS },
    now,
  );
  return campaign.id;
}

/** A running campaign with its whole segment planned; sending it `perDay` a day. */
export async function plannedCampaign(app: App, perDay: number): Promise<string> {
  const id = await newCampaign(app.db, `sending ${perDay}`, perDay, '0 0 * * *');
  await app.db.updateTable('campaigns').set({ status: 'running' }).where('id', '=', id).execute();
  await planCampaign(app.db, id, { now: new Date() });
  return id;
}

/** The app's configuration as environment variables, to make another app with a few of them changed. */
export function configEnv(app: App): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(app.config)) {
    if (value === undefined) continue;
    if (key === 'SES_QUOTA_RESERVE' && typeof value === 'object' && value !== null) {
      // Parsed into { share } or { messages }; written back as the text it came from.
      env[key] = 'share' in value ? `${Number(value.share) * 100}%` : String((value as { messages: number }).messages);
      continue;
    }
    env[key] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return env;
}

export async function clearQueues(app: App): Promise<void> {
  for (const queue of app.queues.all()) await queue.obliterate({ force: true });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function sampleRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

export function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`;
}

/** aws-ses-v2-local as a child process, so its CPU is measured apart from the benchmark's (the dev stack, tests and chaos run it in-process: src/dev/local-ses.ts). */
export async function spawnLocalSes(): Promise<{ endpoint: string; pid: number | undefined; stop(): void }> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['node_modules/aws-ses-v2-local/dist/cli.js', '--host', '127.0.0.1', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('server running')) resolve();
    });
  });
  return { endpoint: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill() };
}
