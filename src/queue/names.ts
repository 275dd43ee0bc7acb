/**
 * Every queue reverify uses, in one place. On Redis their keys live under
 * QUEUE_PREFIX, whose {hash tag} keeps each queue on one Cluster slot; on
 * PostgreSQL, in the schema the prefix names.
 */
export const QUEUE_NAMES = {
  /** Campaign ticks: top the send queue up from the ledger within the daily budget. */
  campaigns: 'campaigns',
  /** Send jobs of a few ledger rows each; its limiter and the send gate keep SES_MAX_SEND_RATE across all workers (src/pace/). */
  send: 'send',
  /** Temporary account reminder and expiry sweeps. */
  sweeps: 'sweeps',
  /** Reconcile: puts back every unfinished ledger row whose job the queue store lost. */
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

export const ALL_QUEUES: readonly QueueName[] = Object.values(QUEUE_NAMES);
