/**
 * Every queue reverify uses, in one place. Keys live under QUEUE_PREFIX, which
 * carries a {hash tag} so each queue's keys share one Redis Cluster slot.
 */
export const QUEUE_NAMES = {
  /** Campaign ticks: top the send queue up from the ledger within the daily budget. */
  campaigns: 'campaigns',
  /** One job per ledger row; its limiter enforces SES_MAX_SEND_RATE across all workers. */
  send: 'send',
  /** Temporary account reminder and expiry sweeps. */
  sweeps: 'sweeps',
  /** Reconcile: puts back every unfinished ledger row whose job Redis lost. */
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

export const ALL_QUEUES: readonly QueueName[] = Object.values(QUEUE_NAMES);
