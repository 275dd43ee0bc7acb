import { checkHolds, checkLedgerAgainstStore, createCampaign, describeCheck, insertEligiblePeople, waitForLedgerFinal, type LedgerCheck } from './campaign.js';
import { reverifyEnv } from './env.js';
import { FaultProxy, NO_FAULTS, type FaultRates } from './fault-proxy.js';
import { LocalSes } from './local-ses.js';
import { ReverifyProcess } from './processes.js';
import { createScratch, type Scratch } from './scratch.js';
import { startSesTagRecorder, type SesTagRecorder } from '../../src/dev/ses-tag-recorder.js';
import { SendEventPublisher, unknownOutcomes, type UnknownOutcomes } from './send-events.js';
import { localSigner } from './webhook.js';
import { startServer } from './webhook-run.js';
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
  /**
   * SES Send events on (SES_SEND_EVENTS=true): a tag recorder before the
   * local SES, a `reverify server` and a publisher posting each message's
   * Send event to it; unknown outcomes wait UNKNOWN_OUTCOME_WAIT_MINUTES (5,
   * the least allowed) and reconcile runs every 15 s.
   */
  sendEvents?: boolean;
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
  /** With Send events: how the rows whose outcome was unknown were settled. */
  unknown?: UnknownOutcomes;
}

/** The wait the chaos run gives unknown outcomes with Send events on (the least the setting allows). */
export const CHAOS_UNKNOWN_OUTCOME_WAIT_MINUTES = 5;

interface SendEventsPart {
  recorder: SesTagRecorder;
  publisher?: SendEventPublisher;
  stop(): Promise<void>;
}

/** The Send-event path: the tag recorder before the local SES, a server to post to, the publisher (started by `start`). */
async function startSendEventsPart(scratch: Scratch, ses: LocalSes): Promise<SendEventsPart & { start(): Promise<void> }> {
  const recorder = await startSesTagRecorder(ses.endpoint);
  const stops: Array<() => Promise<unknown>> = [() => recorder.stop()];
  const part: SendEventsPart & { start(): Promise<void> } = {
    recorder,
    async start() {
      const { signer, certCacheDir } = await localSigner();
      const { server, url } = await startServer(scratch, certCacheDir);
      stops.unshift(() => server.stop(10_000));
      part.publisher = new SendEventPublisher(ses, recorder, signer, url);
      stops.unshift(() => part.publisher!.stop());
    },
    async stop() {
      for (const stop of stops) await stop().catch(() => undefined);
    },
  };
  return part;
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
  const sendEvents = options.sendEvents ? await startSendEventsPart(scratch, ses) : undefined;
  const proxy = await FaultProxy.start(sendEvents?.recorder.endpoint ?? ses.endpoint, options.faults ?? NO_FAULTS, { timeoutHoldMs: options.timeoutHoldMs });
  const workers: ReverifyProcess[] = [];
  const notes: string[] = [];
  try {
    await insertEligiblePeople(scratch.db, options.recipients);
    const eventEnv: Record<string, string> = sendEvents
      ? { SES_SEND_EVENTS: 'true', UNKNOWN_OUTCOME_WAIT_MINUTES: String(CHAOS_UNKNOWN_OUTCOME_WAIT_MINUTES), RECONCILE_CRON: '*/15 * * * * *' }
      : {};
    const env = reverifyEnv(scratch, { SES_ENDPOINT: proxy.endpoint, SES_MAX_SEND_RATE: String(options.rate), ...eventEnv, ...options.env });
    await sendEvents?.start();
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
    const unknown = sendEvents ? await unknownOutcomes(scratch.db, campaign.id) : undefined;
    if (unknown && sendEvents?.publisher) {
      notes.push(
        `SES_SEND_EVENTS=true, UNKNOWN_OUTCOME_WAIT_MINUTES=${CHAOS_UNKNOWN_OUTCOME_WAIT_MINUTES}: ${sendEvents.publisher.posted} Send events accepted by the webhook ` +
          `(${sendEvents.publisher.refused} refused and posted again); rows whose outcome a crash left unknown: ${unknown.unconfirmed}, ` +
          `settled by their SES event ${unknown.settledByEvent}, resent after the wait ${unknown.resentAfterWait}, ` +
          `mailed twice (an event for the first message after the resend) ${unknown.mailedTwice}`,
      );
    }
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
      unknown,
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop(10_000)));
    await sendEvents?.stop();
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
