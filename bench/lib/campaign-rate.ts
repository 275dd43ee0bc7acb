import { jobs } from '../../jobs/registry.js';
import { createApp, type App } from '../../src/app/app.js';
import { startJobWorkers } from '../../src/app/processing.js';
import { enqueueSends } from '../../src/campaigns/enqueue.js';
import { queueTodaysShare } from '../../src/campaigns/planner.js';
import { LATE_SEND_MS, sendBatchSize, sendIntervalMs, sendLimiter } from '../../src/pace/pace.js';
import { sendGateFor } from '../../src/pace/send-gate.js';
import { loadConfig } from '../../src/config.js';
import { createSesClient, useSesClient } from '../../src/mail/ses-client.js';
import type { QueueBackendKind } from '../../src/queue/backend.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import type { BenchResult } from '../types.js';
import { configEnv, plannedCampaign } from './campaign-fixtures.js';
import { peakInWindow } from '../../src/pace/sliding-window.js';

const RATE = 50;
const RATE_SECONDS = 30;

/**
 * SES_MAX_SEND_RATE=50 through the real limiter and send gate, each
 * SendEmail timed as its request goes on the wire, with the queues (the
 * limiter and the send pace) on `backend`: the achieved rate over 30 s and
 * the busiest sliding second.
 */
export async function rateBench(app: App, backend: QueueBackendKind): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const on = backend === 'redis' ? '' : ', queue on PostgreSQL';
  const rateApp = createApp(loadConfig({ ...configEnv(app), SES_MAX_SEND_RATE: String(RATE), QUEUE_BACKEND: backend }));
  await rateApp.queueBackend.prepare();
  const calls: number[] = [];
  const timed = createSesClient(rateApp.config);
  // Timed where the request goes on the wire: added after the client's own
  // last step (the send gate's last check), right before the HTTP handler,
  // so a send the gate re-timed counts when it leaves.
  timed.middlewareStack.add(
    (next) => (args) => {
      calls.push(performance.now());
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'benchWireTime' },
  );
  useSesClient(rateApp, timed);
  const rateCampaign = await plannedCampaign(app, RATE * RATE_SECONDS + 500);
  const rateQueued = await queueTodaysShare(app.db, rateCampaign, { now: new Date(), maxPerTick: RATE * RATE_SECONDS + 500 });
  await enqueueSends(rateApp, rateQueued.queued);
  const rateWorkers = await startJobWorkers(rateApp, jobs, { queues: [QUEUE_NAMES.send] });
  await new Promise((resolve) => setTimeout(resolve, (RATE_SECONDS + 2) * 1000));
  const lateSends = sendGateFor(rateApp).lateSends;
  await rateWorkers.close();
  // What is left of the campaign's jobs must not be sent by a later part.
  for (const queue of rateApp.queues.all()) await queue.obliterate({ force: true });
  await rateApp.close();
  timed.destroy();
  const first = calls[0] ?? 0;
  const inWindow = calls.filter((t) => t - first < RATE_SECONDS * 1000).length;
  const achieved = inWindow / RATE_SECONDS;
  const busiest = peakInWindow(calls);
  console.error(`[bench] campaign: rate (queue on ${backend}) ${achieved.toFixed(1)}/s over ${RATE_SECONDS} s, busiest one-second window ${busiest}`);
  results.push({
    name: `SES_MAX_SEND_RATE=${RATE}${on}: achieved rate over ${RATE_SECONDS} s`,
    figure: `${achieved.toFixed(1)} msg/s`,
    limit: `≥ 95% of ${RATE}/s (${(0.95 * RATE).toFixed(1)}); ratio = limit / figure`,
    ratio: (0.95 * RATE) / achieved,
    pass: achieved >= 0.95 * RATE,
    notes: `queues on ${rateApp.queueBackend.location}; ${sendBatchSize(rateApp.config)} rows a job, one job let out every ${sendLimiter(rateApp.config).duration} ms; the send gate spaces SendEmail calls ${sendIntervalMs(rateApp.config).toFixed(1)} ms apart (3% wider than 1/rate); ${lateSends} of ${calls.length} sends came more than ${LATE_SEND_MS} ms after their time and took a new one`,
  });
  results.push({
    name: `SES_MAX_SEND_RATE=${RATE}${on}: busiest one-second window (sliding, at SendEmail calls)`,
    figure: `${busiest} calls`,
    limit: `≤ ${RATE}`,
    ratio: busiest / RATE,
    pass: busiest <= RATE,
  });
  return results;
}
