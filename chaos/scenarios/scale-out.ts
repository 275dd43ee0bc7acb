import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { runCampaignScenario, type CampaignRunResult } from '../lib/campaign-run.js';
import { waitFor } from '../lib/processes.js';
import { keysPerNode, startRedisCluster } from '../lib/redis-cluster.js';
import type { Scenario, ScenarioContext } from '../lib/types.js';

/**
 * Scale-out: three worker processes on one queue share the global send rate
 * limit; one is SIGKILLed halfway and not restarted, the other two finish its
 * work. Then the same against a three-node Redis Cluster the suite starts,
 * which only works if every queue's keys share one {hash tag} slot.
 */
export const scaleOutScenario: Scenario = {
  name: 'scale-out',
  title: 'three workers share the rate limit, one is killed; then on a 3-node Redis Cluster',
  async run(ctx) {
    // --short runs only the cluster phase: it proves both the shared limit and the {hash tag}, in half the time.
    const single = ctx.short ? undefined : await phase(ctx, 'single Redis', {});
    const notes = single ? single.notes.map((note) => `single Redis: ${note}`) : ['single-Redis phase skipped (--short)'];
    let cluster: CampaignRunResult | undefined;
    let clusterNote = '';
    try {
      const redisCluster = await startRedisCluster();
      try {
        let perNode: Record<number, number> = {};
        cluster = await phase(ctx, 'Redis Cluster', { REDIS_URL: redisCluster.url, REDIS_CLUSTER: 'true' }, redisCluster.url, async (prefix) => {
          perNode = await keysPerNode(prefix);
        });
        const nodesUsed = Object.values(perNode).filter((n) => n > 0).length;
        clusterNote = `Redis Cluster (ports 7101–7103): keys of the prefix per node mid-run ${JSON.stringify(perNode)} — ${nodesUsed === 1 ? 'all on one slot, as the {hash tag} intends' : 'spread over nodes'}`;
        notes.push(...cluster.notes.map((note) => `Redis Cluster: ${note}`), clusterNote);
      } finally {
        await redisCluster.stop();
      }
    } catch (error) {
      clusterNote = `Redis Cluster phase failed: ${(error as Error).message.split('\n').slice(0, 4).join(' / ')}`;
      notes.push(clusterNote);
    }
    const results = [...(single ? [single] : []), ...(cluster ? [cluster] : [])];
    return {
      faults: `3 workers × ${results.length} run(s) (${single ? 'single Redis, ' : ''}Redis Cluster), 1 SIGKILLed in each`,
      messages: results.reduce((sum, r) => sum + r.check.messages, 0),
      lost: results.reduce((sum, r) => sum + r.check.lost, 0),
      windowNotMailed: results.reduce((sum, r) => sum + r.check.windowNotMailed, 0),
      doubled: results.reduce((sum, r) => sum + r.check.doubled, 0),
      http5xx: null,
      peakMemoryMb: Math.max(...results.map((r) => r.peakMemoryMb)),
      pass: cluster !== undefined && results.every((r) => r.holds && r.workerCrashes === 0 && r.proxy.rateBound(rateFor(ctx)).worst <= 1),
      ran: true,
      notes,
    };
  },
};

function rateFor(ctx: ScenarioContext): number {
  return ctx.short ? 30 : 60;
}

async function phase(
  ctx: ScenarioContext,
  label: string,
  env: Record<string, string>,
  redisUrlForCleanup?: string,
  midway?: (prefix: string) => Promise<void>,
): Promise<CampaignRunResult> {
  const recipients = ctx.short ? 400 : 4_000;
  const rate = rateFor(ctx);
  ctx.log(`${label}: 3 workers, ${recipients} recipients, SES_MAX_SEND_RATE=${rate}`);
  return runCampaignScenario(
    {
      scenario: label === 'single Redis' ? 'scale_out' : 'scale_out_cluster',
      recipients,
      rate,
      workerCount: 3,
      env,
      redisUrlForCleanup,
      finishTimeoutMs: (recipients / rate) * 3000 + 180_000,
      async injure({ workers, scratch, campaignId }) {
        await waitFor('40% sent', async () => ((await countRowsByStatus(scratch.db, campaignId)).sent ?? 0) >= recipients * 0.4, 600_000);
        await midway?.(scratch.queuePrefix);
        const busy = await Promise.all(workers.map((worker) => worker.logLines(/"msg":"job failed"/).length));
        await workers[1]!.kill();
        ctx.log(`${label}: SIGKILLed worker-2 at ${JSON.stringify(await countRowsByStatus(scratch.db, campaignId))} (failed-job log lines so far per worker: ${busy.join('/')})`);
      },
    },
    ctx,
  );
}
