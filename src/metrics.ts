import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric reverify exposes on /metrics, in one registry, so
 * names stay consistent across domains. Counters are process-local (Prometheus
 * sums them across processes); queue depths are read from the queue store at scrape time
 * by the HTTP layer.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** SNS notifications by SES event type and what became of them. */
export const sesEventsTotal = new Counter({
  name: 'reverify_ses_events_total',
  help: 'SES events received on the webhook, by event type and outcome (accepted, duplicate, unknown_address, ignored)',
  labelNames: ['type', 'outcome'] as const,
  registers: [registry],
});

/** Webhook requests refused, by reason (bad_signature, bad_certificate, bad_topic, stale, bad_cert_url, malformed, too_large, unavailable). */
export const webhookRejectedTotal = new Counter({
  name: 'reverify_webhook_rejected_total',
  help: 'Webhook requests refused, by reason',
  labelNames: ['reason'] as const,
  registers: [registry],
});

/** Campaign messages by outcome (sent, failed, skipped). */
export const campaignMessagesTotal = new Counter({
  name: 'reverify_campaign_messages_total',
  help: 'Campaign messages by campaign and outcome (sent, failed, skipped)',
  labelNames: ['campaign', 'outcome'] as const,
  registers: [registry],
});

/** Addresses made unverified, by reason (hard_bounce, soft_bounce, complaint, manual). */
export const addressesUnverifiedTotal = new Counter({
  name: 'reverify_addresses_unverified_total',
  help: 'Email addresses made unverified, by reason',
  labelNames: ['reason'] as const,
  registers: [registry],
});

/** Addresses confirmed through a verification link. */
export const addressesVerifiedTotal = new Counter({
  name: 'reverify_addresses_verified_total',
  help: 'Email addresses confirmed through a verification link',
  registers: [registry],
});

/** Verification requests (site or operator) by outcome (sent, throttled, not_eligible, unknown_user, failed, retrying). */
export const verificationRequestsTotal = new Counter({
  name: 'reverify_verification_requests_total',
  help: 'Verification requests processed, by outcome (sent, throttled, not_eligible, unknown_user, failed, retrying)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Inbound replies to verification mail by outcome (verified, refused, duplicate). */
export const inboundRepliesTotal = new Counter({
  name: 'reverify_inbound_replies_total',
  help: 'SES inbound notifications (replies to verification mail), by outcome (verified, refused, duplicate)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Temporary accounts reminded or expired by the sweeps. */
export const temporaryAccountsTotal = new Counter({
  name: 'reverify_temporary_accounts_total',
  help: 'Temporary accounts handled by the sweeps, by action (reminded, expired)',
  labelNames: ['action'] as const,
  registers: [registry],
});

/** How long sweeps take, by kind (remind, expire). */
export const sweepDurationSeconds = new Histogram({
  name: 'reverify_sweep_duration_seconds',
  help: 'Duration of sweep runs, by kind',
  labelNames: ['kind'] as const,
  buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
  registers: [registry],
});

/** Jobs per queue and state, refreshed from the queue store by the /metrics route at scrape time. */
export const queueJobs = new Gauge({
  name: 'reverify_queue_jobs',
  help: 'Jobs in each queue by state (waiting, active, delayed, failed, completed, prioritized, waiting-children), read at scrape time',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});

/** The SES account's quota as GetAccount last gave it, and the rate reverify sends at (issue 21). */
export const sesQuota = new Gauge({
  name: 'reverify_ses_quota',
  help: 'SES account quota by kind: max_send_rate and max_24_hour_send (GetAccount, -1 unlimited), sent_last_24_hours, reserve (SES_QUOTA_RESERVE in messages), send_rate (the rate campaigns send at)',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/** 1 for the SES account's current EnforcementStatus (HEALTHY, PROBATION, SHUTDOWN, UNKNOWN when not known), 0 for the others. */
export const sesEnforcementStatus = new Gauge({
  name: 'reverify_ses_enforcement_status',
  help: 'The SES account enforcement status (GetAccount): 1 for the current one',
  labelNames: ['status'] as const,
  registers: [registry],
});
