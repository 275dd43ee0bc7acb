import { checkHolds, checkLedgerAgainstStore, createCampaign, describeCheck, insertEligiblePeople, waitForLedgerFinal, type LedgerCheck } from './campaign.js';
import { reverifyEnv } from './env.js';
import { FaultProxy, NO_FAULTS, type FaultRates } from './fault-proxy.js';
import { LocalSes } from './local-ses.js';
import { ReverifyProcess } from './processes.js';
import { createScratch, type Scratch } from './scratch.js';
import type { ScenarioContext } from './types.js';

/** What a campaign scenario's injury step is given. */
export interface CampaignRun {
  readonly scratch: Scratch;
  readonly env: Record<string, string>;
  readonly workers: ReverifyProcess[];
  readonly proxy: FaultProxy;
  readonly ses: LocalSes;
  readonly campaignId: string;
  readonly recipients: number;
  readonly ctx: ScenarioContext;
}

export interface CampaignRunOptions {
  scenario: string;
  recipients: number;
  rate: number;
  workerCount?: number;
  faults?: FaultRates;
  timeoutHoldMs?: number;
  /** Extra environment for the workers (e.g. a Redis Cluster). */
  env?: Record<string, string>;
  /** Where Redis keys live when not the shared Redis (cluster runs). */
  redisUrlForCleanup?: string;
  /** How long the campaign may take once injuries are over. */
  finishTimeoutMs: number;
  /** Runs while the campaign sends; injures the system. */
  injure(run: CampaignRun): Promise<void>;
}

export interface CampaignRunResult {
  check: LedgerCheck;
  holds: boolean;
  proxy: FaultProxy;
  peakMemoryMb: number;
  workerCrashes: number;
  seconds: number;
  notes: string[];
}

/**
 * The common shape of the sending scenarios: a scratch database with
 * `recipients` eligible people, the local SES behind the fault proxy, worker
 * processes, one campaign; the injury runs while it sends; then the ledger
 * must be final and agree with the SES store person by person.
 */
export async function runCampaignScenario(options: CampaignRunOptions, ctx: ScenarioContext): Promise<CampaignRunResult> {
  const scratch = await createScratch(options.scenario);
  const ses = await LocalSes.start();
  const proxy = await FaultProxy.start(ses.endpoint, options.faults ?? NO_FAULTS, { timeoutHoldMs: options.timeoutHoldMs });
  const workers: ReverifyProcess[] = [];
  const notes: string[] = [];
  try {
    await insertEligiblePeople(scratch.db, options.recipients);
    const env = reverifyEnv(scratch, { SES_ENDPOINT: proxy.endpoint, SES_MAX_SEND_RATE: String(options.rate), ...options.env });
    for (let i = 0; i < (options.workerCount ?? 1); i += 1) {
      workers.push(new ReverifyProcess(`worker-${i + 1}`, ['worker'], env));
    }
    await Promise.all(workers.map((worker) => worker.start()));
    ctx.log(`${workers.length} worker(s) ready; ${options.recipients} eligible people; SES_MAX_SEND_RATE=${options.rate}`);
    const started = Date.now();
    const campaign = await createCampaign(env, `chaos ${options.scenario}`);
    notes.push(`campaign created with ${campaign.via}`);
    const run: CampaignRun = { scratch, env, workers, proxy, ses, campaignId: campaign.id, recipients: options.recipients, ctx };
    await options.injure(run);
    ctx.log('injuries done; waiting for every ledger row to be final');
    // A worker the injury left stopped is started again: the campaign must finish.
    for (const worker of workers) if (!worker.running && worker.kills === 0) await worker.start();
    const counts = await waitForLedgerFinal(scratch.db, campaign.id, options.recipients, options.finishTimeoutMs).catch((error: Error) => {
      // What the workers last warned about says why the campaign stalled.
      const warnings = workers.flatMap((worker) => worker.logLines(/"level":(40|50|60)/).slice(-3).map((line) => `${worker.label}: ${line.slice(0, 400)}`));
      throw new Error(`${error.message}; workers' last warnings: ${warnings.join(' | ') || 'none'}`, { cause: error });
    });
    const seconds = (Date.now() - started) / 1000;
    ctx.log(`ledger final after ${seconds.toFixed(0)} s: ${JSON.stringify(counts)}`);
    const check = await checkLedgerAgainstStore(scratch.db, campaign.id, ses, options.recipients);
    await proxy.settle();
    notes.push(describeCheck(check));
    notes.push(
      `rate (SES_MAX_SEND_RATE=${options.rate}): SES accepted at most ${proxy.rateBound(options.rate).detail}` +
        `${proxy.rateBound(options.rate).worst > 1 ? ' — ABOVE SES_MAX_SEND_RATE' : ''}; ${proxy.busiestSecond()}; ` +
        `per wall-clock second: ${proxy.perSecond().join(' ')}`,
    );
    const workerCrashes = workers.reduce((sum, worker) => sum + worker.crashes.length, 0);
    if (workerCrashes > 0) {
      notes.push(`worker processes exited on their own ${workerCrashes} time(s): ${workers.flatMap((w) => w.crashes.map((c) => `code ${c.code} signal ${c.signal}, last log: ${c.tail.replace(/\s+/g, ' ').slice(-2500)}`)).join('; ')}`);
    }
    return {
      check,
      holds: checkHolds(check),
      proxy,
      peakMemoryMb: Math.max(...workers.map((worker) => worker.peakMb)),
      workerCrashes,
      seconds,
      notes,
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop(10_000)));
    await proxy.stop();
    await ses.stop();
    if (options.redisUrlForCleanup) await scratch.flushQueueKeys(options.redisUrlForCleanup).catch(() => 0);
    await scratch.drop();
  }
}

/** A whole number in [min, max). */
export function randomBetween(min: number, max: number): number {
  return Math.floor(min + Math.random() * (max - min));
}
