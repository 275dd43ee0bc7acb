import { SendingPausedException, TooManyRequestsException, type SendEmailCommand } from '@aws-sdk/client-sesv2';
import type { Job } from 'bullmq';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { jobs } from '../../jobs/registry.js';
import { sendEmailJob } from '../../jobs/send-email.js';
import type { App } from '../../src/app/app.js';
import { deliverCampaignBatch } from '../../src/campaigns/deliver.js';
import { sendJobId } from '../../src/campaigns/enqueue.js';
import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { reconcile } from '../../src/campaigns/reconcile.js';
import { SendGate, sendGateKey } from '../../src/pace/send-gate.js';
import { getCampaignSummary } from '../../src/campaigns/summary.js';
import { useSesClient, type SesSender } from '../../src/mail/ses-client.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { startJobWorkers } from '../../src/app/processing.js';
import type { RunningWorkers } from '../../src/queue/worker.js';
import { useTestEnv } from '../helpers/env.js';
import { campaignForNewPeople, FakeSes, waitFor } from './helpers.js';

/**
 * At high rates a send job carries up to 16 ledger rows (sendBatchSize). A
 * job of many rows must keep every promise a one-row job keeps: each person
 * mailed at most once, every row settled, a throttle or an account pause
 * stopping what was not yet sent, and the process within its 16 SendEmail
 * calls in flight.
 */
const env = useTestEnv();
const running: RunningWorkers[] = [];
const apps: App[] = [];

afterEach(async () => {
  for (const workers of running.splice(0)) await workers.close(5_000);
  for (const app of apps.splice(0)) await app.close();
});

/** An app at 10,000 messages a second: 16 rows a job. */
function fastApp(ses: SesSender, rate = '10000'): App {
  const app = env.app({ overrides: { SES_MAX_SEND_RATE: rate } });
  apps.push(app);
  useSesClient(app, ses);
  return app;
}

/** A running campaign with `people` rows queued for today (and their jobs enqueued); the ledger row ids in order. */
function queuedRows(app: App, prefix: string, people: number): Promise<{ campaignId: string; rows: string[] }> {
  return campaignForNewPeople(app, prefix, people, { tick: true });
}

/** A fake SES whose sends take `delayMs(n)` for the n-th call (from 1), counting how many are in flight at most. */
class SlowSes extends FakeSes {
  inFlight = 0;
  maxInFlight = 0;
  private started = 0;
  constructor(
    private readonly delayMs: (n: number) => number,
    behaviour?: ConstructorParameters<typeof FakeSes>[0],
  ) {
    super(behaviour);
  }

  override async send(command: SendEmailCommand) {
    this.started += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs(this.started)));
      return await super.send(command);
    } finally {
      this.inFlight -= 1;
    }
  }
}

const meta = (httpStatusCode: number, message: string) => ({ $metadata: { httpStatusCode }, message });

async function statuses(rows: readonly string[]): Promise<string[]> {
  const found = await env.db.selectFrom('campaign_recipients').select(['id', 'status']).where('id', 'in', rows).execute();
  const byId = new Map(found.map((row) => [row.id, row.status]));
  return rows.map((id) => byId.get(id) ?? 'missing');
}

describe('send jobs of many rows', () => {
  it('go out as jobs of 16 rows, every person mailed once, never more than 16 sends in flight', async () => {
    // Each send takes 50 ms, long enough that the jobs overlap however slowly a backend hands them out.
    const ses = new SlowSes(() => 50);
    const app = fastApp(ses);
    const { campaignId, rows } = await queuedRows(app, 'batch-all', 40);
    const send = app.queues.get(QUEUE_NAMES.send);
    expect(await send.getJob(sendJobId(rows.slice(0, 16)))).toBeDefined();
    expect(await send.getJobCounts('waiting')).toEqual({ waiting: 3 });

    const workers = await startJobWorkers(app, jobs, { queues: [QUEUE_NAMES.send] });
    running.push(workers);
    await waitFor('forty sent rows', async () => (await countRowsByStatus(env.db, campaignId)).sent === 40);

    expect(ses.maxInFlight).toBeLessThanOrEqual(16);
    // Three jobs at once, 40 rows: the slots were the limit, not the jobs.
    expect(ses.maxInFlight).toBeGreaterThan(8);
    expect(new Set(ses.accepted.map((message) => message.to)).size).toBe(40);
    expect(ses.accepted).toHaveLength(40);
    const recorded = await env.db.selectFrom('campaign_recipients').select('ses_message_id').where('campaign_id', '=', campaignId).execute();
    expect(new Set(recorded.map((row) => row.ses_message_id))).toEqual(new Set(ses.accepted.map((message) => message.messageId)));
  });

  it('a 429 mid-job: what was sent stays sent, the rest goes back to queued and out once on the next run', async () => {
    // The first call is throttled at once; the other 15 take 50 ms, so the 4 rows left wait for a slot.
    const ses = new SlowSes((n) => (n === 1 ? 0 : 50), (_to, call) => (call === 1 ? new TooManyRequestsException(meta(429, 'Maximum sending rate exceeded.')) : undefined));
    const app = fastApp(ses);
    const { campaignId, rows } = await queuedRows(app, 'batch-429', 20);

    // One run over 20 rows: 16 go to SES at once, the first is throttled, the 4 waiting for a slot are not sent.
    await expect(deliverCampaignBatch(app, rows, { ses })).rejects.toThrow(/rateLimitExceeded/);
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 15, queued: 5 });
    expect(ses.calls).toBe(16);

    const again = await deliverCampaignBatch(app, rows, { ses });
    expect(again.filter((outcome) => outcome === 'sent')).toHaveLength(5);
    expect(again.filter((outcome) => outcome === 'not_queued')).toHaveLength(15);
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 20 });
    expect(new Set(ses.accepted.map((message) => message.to)).size).toBe(20);
    expect(ses.accepted).toHaveLength(20);
  });

  it('a network error fails only its own row’s attempt: the others are recorded, the job is retried for it alone', async () => {
    let failures = 0;
    const ses = new FakeSes((to) => (to === 'batch-net-003@example.com' && failures++ === 0 ? Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET' }) : undefined));
    const app = fastApp(ses);
    const { campaignId, rows } = await queuedRows(app, 'batch-net', 6);

    await expect(deliverCampaignBatch(app, rows, { ses, attemptsMade: 0, maxAttempts: 8 })).rejects.toThrow(`SES send failed for ledger row ${rows[3]}`);
    expect(await statuses(rows)).toEqual(['sent', 'sent', 'sent', 'queued', 'sent', 'sent']);

    const outcomes = await deliverCampaignBatch(app, rows, { ses, attemptsMade: 1, maxAttempts: 8 });
    expect(outcomes).toEqual(['not_queued', 'not_queued', 'not_queued', 'sent', 'not_queued', 'not_queued']);
    expect(ses.accepted.map((message) => message.to).filter((to) => to === 'batch-net-003@example.com')).toHaveLength(1);
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 6 });
  });

  it('SES pausing the account mid-job pauses every campaign and sends nothing more of the job', async () => {
    // The second row's send (the second call) is refused at once; the other 15 take 50 ms.
    const ses = new SlowSes((n) => (n === 2 ? 0 : 50), (to) => (to === 'batch-paused-001@example.com' ? new SendingPausedException(meta(400, 'Sending is paused for this account.')) : undefined));
    const app = fastApp(ses);
    const { campaignId, rows } = await queuedRows(app, 'batch-paused', 20);

    const outcomes = await deliverCampaignBatch(app, rows, { ses });
    expect(ses.calls).toBe(16);
    expect(outcomes.filter((outcome) => outcome === 'sent')).toHaveLength(15);
    expect(outcomes.filter((outcome) => outcome === 'campaign_paused')).toHaveLength(5);
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 15, queued: 5 });
    const summary = await getCampaignSummary(env.db, campaignId);
    expect(summary?.status).toBe('paused');
    expect(summary?.reason).toContain('SendingPausedException');
  });

  it('a row listed twice in one job is sent once and not taken for a crashed send', async () => {
    const ses = new FakeSes();
    const app = fastApp(ses);
    const { campaignId, rows } = await queuedRows(app, 'batch-twice', 2);
    const outcomes = await deliverCampaignBatch(app, [rows[0]!, rows[1]!, rows[0]!], { ses });
    expect(outcomes).toEqual(['sent', 'sent']);
    expect(ses.accepted).toHaveLength(2);
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 2 });
  });
});

describe('send jobs paced by the send gate', () => {
  it('claim each row just before its send time and record it as SES answers, so few rows are claimed and unrecorded at any moment', async () => {
    // 4 rows a job (40 a second), and a gate spacing sends 200 ms apart, wide
    // enough that a busy machine cannot blur the order: each row is claimed
    // 25 ms before its time.
    const seen: string[][] = [];
    const ses = new FakeSes();
    const app = fastApp(ses, '40');
    const { campaignId, rows } = await queuedRows(app, 'batch-gate', 4);
    const watching: SesSender = {
      async send(command) {
        seen.push(await statuses(rows));
        return ses.send(command);
      },
    };
    const gate = new SendGate(app.queueBackend.pace, `${sendGateKey(app.config)}-wide`, 200);
    const outcomes = await deliverCampaignBatch(app, rows, { ses: watching, gate });
    expect(outcomes).toEqual(['sent', 'sent', 'sent', 'sent']);
    // When the first message left, some rows were not claimed yet; when the
    // last left, some were recorded already (not all at the job's end). (A
    // send held up past its time takes a later one, so on a busy machine the
    // rows need not leave in order.)
    expect(seen[0]).toContain('queued');
    expect(seen.at(-1)).toContain('sent');
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 4 });
    expect(new Set(ses.accepted.map((message) => message.to)).size).toBe(4);
  });
});

describe('send jobs paced by the send gate, when SES throttles', () => {
  it('a 429 mid-job leaves the rows not yet claimed queued, and the next run sends each of them once', async () => {
    const ses = new FakeSes((_to, call) => (call === 2 ? new TooManyRequestsException(meta(429, 'Maximum sending rate exceeded.')) : undefined));
    const app = fastApp(ses, '40');
    const { campaignId, rows } = await queuedRows(app, 'batch-gate-429', 4);
    const gate = new SendGate(app.queueBackend.pace, `${sendGateKey(app.config)}-throttle`, 200);

    // One row is sent, the next is throttled; the rows due later are never
    // claimed. (Usually rows 1 and 2; on a busy machine a late send takes a
    // later time, so the order may differ, the counts not.)
    await expect(deliverCampaignBatch(app, rows, { ses, gate })).rejects.toThrow(/rateLimitExceeded/);
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 1, queued: 3 });
    expect(ses.calls).toBe(2);

    const again = await deliverCampaignBatch(app, rows, { ses, gate });
    expect(again.filter((outcome) => outcome === 'sent')).toHaveLength(3);
    expect(again.filter((outcome) => outcome === 'not_queued')).toHaveLength(1);
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 4 });
    expect(new Set(ses.accepted.map((message) => message.to)).size).toBe(4);
    expect(ses.accepted).toHaveLength(4);
  });
});

describe('send jobs paced by the send gate, when the database fails mid-job', () => {
  /**
   * A real database error for one ledger row: a trigger that refuses the
   * row's change to `status` (its claim: → sending; its record: → sent).
   * Returns a function that removes it.
   */
  async function refuseRowChange(rowId: string, toStatus: 'sending' | 'sent'): Promise<() => Promise<void>> {
    const name = `refuse_${toStatus}_${rowId}`;
    await sql`
      CREATE FUNCTION ${sql.id(name)}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected failure: ledger row % may not become ${sql.raw(toStatus)}', OLD.id; END $$`.execute(env.db);
    await sql`
      CREATE TRIGGER ${sql.id(name)} BEFORE UPDATE ON campaign_recipients FOR EACH ROW
      WHEN (OLD.id = ${sql.lit(Number(rowId))} AND NEW.status = ${sql.lit(toStatus)}) EXECUTE FUNCTION ${sql.id(name)}()`.execute(env.db);
    return async () => {
      await sql`DROP TRIGGER ${sql.id(name)} ON campaign_recipients`.execute(env.db);
      await sql`DROP FUNCTION ${sql.id(name)}()`.execute(env.db);
    };
  }

  /** Four people queued for today at 40 a second, and a gate of its own spacing their sends 100 ms apart. */
  async function fourPacedRows(prefix: string) {
    const ses = new FakeSes();
    const app = fastApp(ses, '40');
    const { campaignId, rows } = await queuedRows(app, prefix, 4);
    const gate = new SendGate(app.queueBackend.pace, `${sendGateKey(app.config)}-${prefix}`, 100);
    return { ses, app, campaignId, rows, gate };
  }

  it('a failed claim leaves its row queued and unsent while the others go; the retry sends it once', async () => {
    const { ses, app, campaignId, rows, gate } = await fourPacedRows('batch-gate-claim-error');
    const allow = await refuseRowChange(rows[1]!, 'sending');

    await expect(deliverCampaignBatch(app, rows, { ses, gate })).rejects.toThrow(/injected failure: ledger row \d+ may not become sending/);
    expect(await statuses(rows)).toEqual(['sent', 'queued', 'sent', 'sent']);
    expect(ses.accepted.map((message) => message.to)).not.toContain('batch-gate-claim-error-001@example.com');
    expect(ses.accepted).toHaveLength(3);

    await allow();
    const again = await deliverCampaignBatch(app, rows, { ses, gate });
    expect(again).toEqual(['not_queued', 'sent', 'not_queued', 'not_queued']);
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 4 });
    expect(ses.accepted).toHaveLength(4);
    expect(new Set(ses.accepted.map((message) => message.to)).size).toBe(4);
  });

  it('a failed record leaves its row sending; the retry fails it as an unknown outcome and does not mail it again', async () => {
    const { ses, app, campaignId, rows, gate } = await fourPacedRows('batch-gate-record-error');
    const allow = await refuseRowChange(rows[2]!, 'sent');

    await expect(deliverCampaignBatch(app, rows, { ses, gate })).rejects.toThrow(/could not record SES MessageId fake-\S+ on ledger row \d+: injected failure/);
    // SES took all four; the row whose record failed is left `sending`, as a
    // process dying at that moment would leave it.
    expect(ses.accepted).toHaveLength(4);
    expect(await statuses(rows)).toEqual(['sent', 'sent', 'sending', 'sent']);

    await allow();
    const again = await deliverCampaignBatch(app, rows, { ses, gate });
    expect(again).toEqual(['not_queued', 'not_queued', 'unknown_outcome', 'not_queued']);
    expect(ses.accepted).toHaveLength(4);
    const row = await env.db.selectFrom('campaign_recipients').select(['status', 'reason']).where('id', '=', rows[2]!).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'failed', reason: 'unknown_outcome_after_crash' });
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 3, failed: 1 });
  });

  it('a record the database refuses while unreachable is tried again in the job, and the row ends sent with its MessageId', async () => {
    const { ses, app, campaignId, rows, gate } = await fourPacedRows('batch-gate-record-outage');
    // Row 3's record is refused twice as "cannot connect now" (57P03), as
    // while the database restarts; a sequence counts the attempts, since a
    // refused statement rolls back everything else it wrote.
    await sql`CREATE SEQUENCE record_outage_attempts`.execute(env.db);
    await sql`
      CREATE FUNCTION record_outage() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('record_outage_attempts') <= 2 THEN
          RAISE EXCEPTION 'the database system is starting up' USING ERRCODE = '57P03';
        END IF;
        RETURN NEW;
      END $$`.execute(env.db);
    await sql`
      CREATE TRIGGER record_outage BEFORE UPDATE ON campaign_recipients FOR EACH ROW
      WHEN (OLD.id = ${sql.lit(Number(rows[2]))} AND NEW.status = 'sent') EXECUTE FUNCTION record_outage()`.execute(env.db);
    try {
      expect(await deliverCampaignBatch(app, rows, { ses, gate })).toEqual(['sent', 'sent', 'sent', 'sent']);
    } finally {
      await sql`DROP TRIGGER record_outage ON campaign_recipients`.execute(env.db);
      await sql`DROP FUNCTION record_outage()`.execute(env.db);
    }
    const attempts = await sql<{ last_value: string }>`SELECT last_value FROM record_outage_attempts`.execute(env.db);
    expect(Number(attempts.rows[0]!.last_value)).toBe(3);
    const row = await env.db.selectFrom('campaign_recipients').select(['status', 'ses_message_id']).where('id', '=', rows[2]!).executeTakeFirstOrThrow();
    const mailed = ses.accepted.find((message) => message.to === 'batch-gate-record-outage-002@example.com');
    expect(row).toEqual({ status: 'sent', ses_message_id: mailed?.messageId });
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 4 });
    expect(ses.accepted).toHaveLength(4);
  });
});

describe('send job payloads', () => {
  it('accepts the rows of a batch and the single row of jobs enqueued before batches; refuses anything else', () => {
    expect(sendEmailJob.payload.parse({ recipientIds: ['1', '2'] })).toEqual({ recipientIds: ['1', '2'] });
    expect(sendEmailJob.payload.parse({ recipientId: '7' })).toEqual({ recipientIds: ['7'] });
    expect(sendEmailJob.payload.safeParse({ recipientIds: [] }).success).toBe(false);
    expect(sendEmailJob.payload.safeParse({ recipientIds: Array.from({ length: 17 }, (_, i) => String(i + 1)) }).success).toBe(false);
    expect(sendEmailJob.payload.safeParse({ recipientIds: ['1; DROP TABLE users'] }).success).toBe(false);
  });

  it('a job larger than this process’s rate allows sends its share and enqueues the rest', async () => {
    const ses = new FakeSes();
    // 40 a second: 4 rows a job.
    const app = fastApp(ses, '40');
    const { campaignId, rows } = await queuedRows(app, 'batch-split', 10);
    const send = app.queues.get(QUEUE_NAMES.send);
    await send.obliterate({ force: true });

    const job = { attemptsMade: 0, opts: { attempts: 8 } } as unknown as Job;
    const outcomes = await sendEmailJob.handle({ recipientIds: rows }, { app, job, log: app.log, token: undefined, rateLimited: true });
    expect(outcomes).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(await countRowsByStatus(env.db, campaignId)).toEqual({ sent: 4, queued: 6 });
    expect(await send.getJob(sendJobId(rows.slice(4, 8)))).toBeDefined();
    expect(await send.getJob(sendJobId(rows.slice(8, 10)))).toBeDefined();
  });
});

describe('reconcile with jobs of many rows', () => {
  it('leaves rows a live job holds alone, and gives rows whose job was lost a new one, once', async () => {
    const ses = new FakeSes();
    const app = fastApp(ses);
    const { campaignId, rows } = await queuedRows(app, 'batch-reconcile', 20);
    // Only this campaign runs, and its two jobs (16 rows and 4) are the queue's only ones.
    await env.db.updateTable('campaigns').set({ status: 'completed' }).where('id', '<>', campaignId).execute();
    const send = app.queues.get(QUEUE_NAMES.send);
    await send.obliterate({ force: true });
    expect(await reconcile(app)).toMatchObject({ requeued: 20 });
    expect(await send.getJobCounts('waiting')).toEqual({ waiting: 2 });
    expect(await reconcile(app)).toMatchObject({ requeued: 0 });

    // The job of the first 16 rows is lost (as with a flushed Redis); the second stays.
    await send.remove(sendJobId(rows.slice(0, 16)));
    expect(await reconcile(app)).toMatchObject({ requeued: 16 });
    expect(await send.getJob(sendJobId(rows.slice(0, 16)))).toBeDefined();
    expect(await reconcile(app)).toMatchObject({ requeued: 0 });
    expect(await send.getJobCounts('waiting')).toEqual({ waiting: 2 });
  });
});
