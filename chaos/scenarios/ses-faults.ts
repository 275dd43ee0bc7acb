import { THROTTLE_BACKOFF_MS } from '../../src/pace/pace.js';
import { runCampaignScenario } from '../lib/campaign-run.js';
import type { Scenario } from '../lib/types.js';

/**
 * SES faults: the fault proxy in front of the local SES answers a share of
 * SendEmail calls with 429, 500, a reset connection or silence. Every
 * recipient must still be sent exactly once, and SES must never accept more
 * than SES_MAX_SEND_RATE messages in any one-second window.
 */
export const sesFaultsScenario: Scenario = {
  name: 'ses-faults',
  title: 'SES answering 429, 500, resets and timeouts at set rates',
  async run(ctx) {
    const recipients = ctx.short ? 300 : 3_000;
    const rate = ctx.short ? 20 : 40;
    const faults = { throttle: 0.08, serverError: 0.05, reset: 0.03, timeout: 0.01 };
    const result = await runCampaignScenario(
      {
        scenario: 'ses_faults',
        recipients,
        rate,
        faults,
        timeoutHoldMs: 15_000,
        // Every 429 stops the whole send queue for THROTTLE_BACKOFF_MS, so at
        // these fault rates the campaign goes at 6–8 messages a second, not
        // 40 (measured; 422 s and 500 s for 3,000). Twice the time the pace
        // and the backoffs alone take, and three minutes more: the limit
        // catches a stalled campaign, not a slow one.
        finishTimeoutMs: 2 * recipients * (1000 / rate + faults.throttle * THROTTLE_BACKOFF_MS) + 180_000,
        async injure() {
          // The proxy does the injuring from the first send on.
        },
      },
      ctx,
    );
    const { check, proxy } = result;
    const peak = proxy.peakInWindow(1000);
    const bound = proxy.rateBound(rate);
    const effective = proxy.accepted.length > 1 ? (proxy.accepted.length - 1) / (((proxy.accepted.at(-1) ?? 0) - (proxy.accepted[0] ?? 0)) / 1000) : 0;
    const notes = [
      ...result.notes,
      `fault rates: 429 ${faults.throttle * 100}%, 500 ${faults.serverError * 100}%, reset ${faults.reset * 100}%, timeout ${faults.timeout * 100}% (held 15 s, then dropped); ` +
        `injected: ${proxy.injected.throttle}×429, ${proxy.injected.serverError}×500, ${proxy.injected.reset} resets, ${proxy.injected.timeout} timeouts over ${proxy.requests} SendEmail requests`,
      `${effective.toFixed(1)} messages/s on average while faults were injected` +
        (bound.worst > 1
          ? `; above the limiter's bound: the limiter counts job starts, while the SDK's own retries (3 attempts, backoff) and requests freed by a reset or timeout land in later limiter windows, so SES saw up to ${peak} in one second`
          : ''),
    ];
    return {
      faults: `${proxy.faultsInjected} SES faults (429/500/reset/timeout)`,
      messages: check.messages,
      lost: check.lost,
      windowNotMailed: check.windowNotMailed,
      doubled: check.doubled,
      http5xx: null,
      peakMemoryMb: result.peakMemoryMb,
      pass: result.holds && result.workerCrashes === 0 && bound.worst <= 1,
      ran: true,
      notes,
    };
  },
};
