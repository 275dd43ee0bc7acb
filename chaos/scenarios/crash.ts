import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { randomBetween, runCampaignScenario } from '../lib/campaign-run.js';
import { sleep } from '../lib/processes.js';
import type { Scenario } from '../lib/types.js';

/**
 * Crash: the worker is SIGKILLed at random moments of a campaign and started
 * again. Every eligible person must end with exactly one sent ledger row and
 * one message in the SES store, except the rows the ledger marks as caught
 * between SES accepting and the ledger recording (unknown_outcome_after_crash).
 * With --send-events those rows wait for SES's Send events instead
 * (SES_SEND_EVENTS=true): every eligible person must then get exactly one
 * message, none left unmailed.
 */
export const crashScenario: Scenario = {
  name: 'crash',
  title: 'worker SIGKILLed at random moments of a campaign, then restarted',
  backends: ['redis', 'postgres'],
  sendEvents: true,
  async run(ctx) {
    const recipients = ctx.short ? 400 : 10_000;
    const kills = ctx.short ? 2 : 10;
    const rate = ctx.short ? 50 : 100;
    let killed = 0;
    const result = await runCampaignScenario(
      {
        scenario: 'crash',
        recipients,
        rate,
        // With Send events, unknown outcomes wait 5 minutes (CHAOS_UNKNOWN_OUTCOME_WAIT_MINUTES) before their resend.
        finishTimeoutMs: (recipients / rate) * 1000 * 3 + 180_000 + (ctx.sendEvents ? 420_000 : 0),
        sendEvents: ctx.sendEvents,
        async injure({ workers, scratch, campaignId }) {
          const worker = workers[0]!;
          // Spread the kills over the time the sends would take without them.
          const span = (recipients / rate) * 1000;
          for (let i = 0; i < kills; i += 1) {
            await sleep(randomBetween(span / kills / 3, span / kills));
            const counts = await countRowsByStatus(scratch.db, campaignId);
            await worker.kill();
            killed += 1;
            ctx.log(`SIGKILL ${killed}/${kills} at ${JSON.stringify(counts)}`);
            await sleep(randomBetween(200, 2000));
            await worker.start();
          }
        },
      },
      ctx,
    );
    const { check } = result;
    return {
      faults: `${killed} × SIGKILL of the worker${ctx.sendEvents ? ', SES Send events on' : ''}`,
      messages: check.messages,
      lost: check.lost,
      windowNotMailed: check.windowNotMailed,
      doubled: check.doubled,
      http5xx: null,
      peakMemoryMb: result.peakMemoryMb,
      pass: result.holds && result.workerCrashes === 0,
      ran: true,
      notes: result.notes,
    };
  },
};
