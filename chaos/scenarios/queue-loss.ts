import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { runReconcile } from '../lib/campaign.js';
import { runCampaignScenario } from '../lib/campaign-run.js';
import { insertDueTemporaryAccounts, sweepLeftovers } from '../lib/accounts.js';
import { chaosQueueBackend } from '../lib/backend.js';
import { reverifyEnv } from '../lib/env.js';
import { ReverifyProcess, sleep, waitFor } from '../lib/processes.js';
import { addJob } from '../lib/schedulers.js';
import { createScratch } from '../lib/scratch.js';
import type { ScenarioContext, Scenario } from '../lib/types.js';

/**
 * Queue loss: the whole queue store is lost in the middle of a campaign and
 * in the middle of an expiry sweep; then `reverify reconcile` is run by hand.
 * Nothing may be lost or sent twice. On Redis every key of the suite's queue
 * prefix is deleted both times (a FLUSHALL limited to this prefix, because
 * other people share this Redis); on PostgreSQL (CHAOS_QUEUE_BACKEND) the
 * queue schema is dropped mid-campaign and its tables are truncated
 * mid-sweep.
 */
export const queueLossScenario: Scenario = {
  name: 'queue-loss',
  title: 'queue store lost (Redis keys deleted; PostgreSQL queue schema dropped, tables truncated) mid-campaign and mid-sweep, then reverify reconcile',
  backends: ['redis', 'postgres'],
  async run(ctx) {
    const recipients = ctx.short ? 400 : 5_000;
    const rate = ctx.short ? 50 : 100;
    const notes: string[] = [];
    let flushed = '';
    const campaign = await runCampaignScenario(
      {
        scenario: 'queue_loss',
        recipients,
        rate,
        finishTimeoutMs: (recipients / rate) * 3000 + 120_000,
        async injure({ scratch, campaignId, env }) {
          await waitFor('a third of the campaign sent', async () => ((await countRowsByStatus(scratch.db, campaignId)).sent ?? 0) >= recipients / 3, 300_000);
          const before = await countRowsByStatus(scratch.db, campaignId);
          flushed = await scratch.loseQueueStore('drop-schema');
          ctx.log(`${flushed} at ${JSON.stringify(before)}`);
          await sleep(5_000);
          const stalled = await countRowsByStatus(scratch.db, campaignId);
          ctx.log(`5 s later, before reconcile: ${JSON.stringify(stalled)}`);
          notes.push(`campaign: ${flushed} at ${JSON.stringify(before)}; 5 s later ${JSON.stringify(stalled)}`);
          const schedulersBefore = await scratch.listSchedulers();
          const reconciled = await runReconcile(env);
          const schedulersAfter = await scratch.listSchedulers();
          notes.push(`${reconciled.via}: ${JSON.stringify(reconciled.result)}; schedulers before it [${schedulersBefore.join(', ')}], after [${schedulersAfter.join(', ')}]`);
          ctx.log(`reconcile: ${JSON.stringify(reconciled.result)}; schedulers after: ${schedulersAfter.join(', ')}`);
        },
      },
      ctx,
    );
    const sweep = await sweepPhase(ctx);
    const { check } = campaign;
    const lost = check.lost + sweep.lost;
    return {
      faults: `queue store lost twice (${chaosQueueBackend()}: ${flushed} mid-campaign; ${sweep.flushed} mid-sweep)`,
      messages: check.messages,
      lost,
      windowNotMailed: check.windowNotMailed,
      doubled: check.doubled,
      http5xx: null,
      peakMemoryMb: Math.max(campaign.peakMemoryMb, sweep.peakMb),
      pass: campaign.holds && campaign.workerCrashes === 0 && sweep.pass,
      ran: true,
      notes: [...campaign.notes, ...notes, ...sweep.notes],
    };
  },
};

/** The sweep half: an expiry sweep the worker runs from its queue loses its keys halfway. */
async function sweepPhase(ctx: ScenarioContext): Promise<{ lost: number; flushed: string; peakMb: number; pass: boolean; notes: string[] }> {
  const accounts = ctx.short ? 2_000 : 20_000;
  const scratch = await createScratch('queue_loss_sweep');
  const notes: string[] = [];
  // Sweeps every few seconds, so a lost schedule shows as accounts nobody expires.
  const period = ctx.short ? 5 : 10;
  const env = reverifyEnv(scratch, { SWEEP_BATCH_SIZE: '25', SWEEP_CRON: `*/${period} * * * * *`, LOG_LEVEL: 'info' });
  const worker = new ReverifyProcess('worker', ['worker'], env);
  try {
    await insertDueTemporaryAccounts(scratch.db, accounts);
    await worker.start();
    await addJob(env, 'sweeps', 'sweep-expire', {});
    await waitFor(
      'the expiry sweep to be halfway',
      async () => (await scratch.db.selectFrom('sweep_runs').select('processed').where('outcome', '=', 'running').where('processed', '>', accounts / 4).executeTakeFirst()) !== undefined,
      120_000,
      100,
    );
    const before = await sweepLeftovers(scratch.db);
    const flushed = await scratch.loseQueueStore('truncate');
    ctx.log(`sweep: ${flushed} with ${before.expired}/${accounts} accounts expired`);
    const reconciled = await runReconcile(env);
    const schedulers = await scratch.listSchedulers();
    notes.push(`sweep: ${flushed} with ${before.expired}/${accounts} due accounts expired; ${reconciled.via} then: ${JSON.stringify(reconciled.result)}; schedulers after it [${schedulers.join(', ')}]`);
    // Two sweep periods: the interrupted run finishing, or the next scheduled one, must expire everybody due.
    const after = await waitFor('every due account expired', async () => {
      const left = await sweepLeftovers(scratch.db);
      return left.unexpired === 0 && left.openSessions === 0 && left.openTokens === 0 ? left : undefined;
    }, 3 * period * 1000).catch(async () => sweepLeftovers(scratch.db));
    const runs = await scratch.db.selectFrom('sweep_runs').select(['id', 'outcome', 'processed']).orderBy('id').execute();
    notes.push(`sweep end state: ${JSON.stringify(after)}; sweep_runs ${runs.map((r) => `#${r.id} ${r.outcome} ${r.processed}`).join(', ')}`);
    // Accounts that fall due after the loss are the next night's work: only a schedule that came back expires them.
    const later = ctx.short ? 100 : 500;
    await insertDueTemporaryAccounts(scratch.db, later, 'later');
    const next = await waitFor('accounts due after the loss expired by the schedule', async () => {
      const left = await sweepLeftovers(scratch.db);
      return left.unexpired === 0 ? left : undefined;
    }, 3 * period * 1000).catch(async () => sweepLeftovers(scratch.db));
    const lost = after.unexpired + next.unexpired;
    if (next.unexpired > 0) {
      notes.push(
        `${next.unexpired} of ${later} accounts that fell due after the loss were not expired within ${3 * period} s (3 periods of SWEEP_CRON=*/${period} s): ` +
          'the fixed schedules (sweep-expire, sweep-remind, reconcile) are not put back by reconcile, only by restarting the worker',
      );
    }
    return {
      lost,
      flushed,
      peakMb: worker.peakMb,
      pass: lost === 0 && after.openSessions === 0 && after.openTokens === 0 && worker.crashes.length === 0,
      notes,
    };
  } finally {
    await worker.stop(10_000);
    await scratch.drop();
  }
}
