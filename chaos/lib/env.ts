import { chaosQueueBackend } from './backend.js';
import type { Scratch } from './scratch.js';
import { REDIS_URL } from './scratch.js';

export const CHAOS_TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:reverify-chaos';
export const CHAOS_ADMIN_PASSWORD = 'chaos-admin-password';

/** Environment for reverify processes of one scenario: its database, its queue prefix and backend, the SES endpoint given. */
export function reverifyEnv(scratch: Scratch, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: scratch.url,
    REDIS_URL,
    QUEUE_PREFIX: scratch.queuePrefix,
    QUEUE_BACKEND: chaosQueueBackend(),
    MAIL_FROM: 'reverify chaos <noreply@chaos.example.org>',
    PUBLIC_BASE_URL: 'https://chaos.example.org',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    SNS_TOPIC_ARNS: CHAOS_TOPIC_ARN,
    ADMIN_USER: 'admin',
    ADMIN_PASSWORD: CHAOS_ADMIN_PASSWORD,
    LOG_LEVEL: 'info',
    ...overrides,
  };
}
