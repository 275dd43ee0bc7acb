import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

/**
 * Configuration comes only from the environment. It is validated once at start
 * and frozen; every problem is reported in one message so an operator fixes
 * them all in one go instead of one restart per variable.
 */

const positiveInt = (fallback: number) =>
  z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').positive('must be greater than 0').default(fallback);

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const snsTopicArn = /^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

const schema = z
  .object({
    DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
    QUEUE_BACKEND: z.enum(['redis', 'postgres'], { error: 'must be redis or postgres (where the job queues live)' }).default('redis'),
    QUEUE_DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
    REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
    REDIS_CLUSTER: z
      .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
      .default('false')
      .transform((value) => value === 'true' || value === '1'),
    QUEUE_PREFIX: z
      .string()
      .regex(/^[^{}]*\{[^{}]+\}[^{}]*$/, 'must contain one {hash tag}, e.g. {reverify}, so every key of a queue lands on one Redis Cluster slot')
      .default('{reverify}'),
    AWS_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1').default('us-east-1'),
    SES_ENDPOINT: url(['http:', 'https:']).optional(),
    MAIL_FROM: z
      .string()
      .regex(/^(.*<)?[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>?$/, 'must be an address such as "Example <noreply@example.org>"')
      .optional(),
    SES_CONFIGURATION_SET: z.string().min(1).optional(),
    SES_MAX_SEND_RATE: z.coerce.number({ error: 'must be a number' }).positive('must be greater than 0').default(14),
    SES_QUOTA_RESERVE: z
      .string()
      .default('20%')
      .refine((value) => parseQuotaReserve(value) !== undefined, {
        message: 'must be a share of the 24-hour quota such as "20%" (0–100%) or a number of messages such as "5000"',
      })
      .transform((value) => parseQuotaReserve(value) as QuotaReserve),
    SES_SUPPRESSION_SYNC_CRON: z
      .string()
      .default('30 4 * * *')
      .refine((expr) => isValidCron(expr), { message: 'must be a cron expression such as "30 4 * * *"' }),
    PUBLIC_BASE_URL: url(['http:', 'https:']).default('http://localhost:3000'),
    SNS_TOPIC_ARNS: z
      .string()
      .default('')
      .transform((value) => value.split(',').map((arn) => arn.trim()).filter(Boolean))
      .refine((arns) => arns.every((arn) => snsTopicArn.test(arn)), {
        message: 'must be a comma-separated list of SNS topic ARNs (arn:aws:sns:<region>:<account>:<topic>)',
      }),
    SNS_CERT_CACHE_DIR: z.string().min(1).default('.reverify/sns-certs'),
    // Operators' mail templates (<name>.subject.hbs, .text.hbs, .html.hbs), read and checked at start: src/mail/template-dir.ts.
    TEMPLATES_DIR: z.string().min(1).optional(),
    SNS_MAX_AGE_SECONDS: positiveInt(3600),
    SNS_SIGNATURE_VERSIONS: z
      .string()
      .default('1,2')
      .transform((value) => value.split(',').map((version) => version.trim()).filter(Boolean))
      .refine((versions) => versions.length > 0 && versions.every((version) => version === '1' || version === '2'), {
        message: 'must be 1, 2 or 1,2 (the SNS SignatureVersions accepted; 2 alone refuses SHA1-signed messages)',
      })
      .transform((versions) => [...new Set(versions)] as Array<'1' | '2'>),
    SOFT_BOUNCE_LIMIT: positiveInt(5),
    VERIFY_TOKEN_TTL_HOURS: positiveInt(168),
    VERIFICATION_REQUESTS_PER_DAY: positiveInt(3),
    REPLY_DOMAIN: z
      .string()
      .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, 'must be a domain name such as reply.example.org (SES receives mail for it)')
      .transform((domain) => domain.toLowerCase())
      .optional(),
    TEMP_ACCOUNT_TTL_DAYS: positiveInt(365),
    TEMP_ACCOUNT_REMINDER_DAYS: positiveInt(10),
    SWEEP_CRON: z
      .string()
      .default('0 3 * * *')
      .refine((expr) => isValidCron(expr), { message: 'must be a cron expression such as "0 3 * * *"' }),
    SWEEP_BATCH_SIZE: positiveInt(1000),
    RECONCILE_CRON: z
      .string()
      .default('*/10 * * * *')
      .refine((expr) => isValidCron(expr), { message: 'must be a cron expression such as "*/10 * * * *"' }),
    SES_SEND_EVENTS: z
      .enum(['true', 'false', '1', '0'], { error: 'must be true or false (true only once the configuration set publishes Send events to the webhook)' })
      .default('false')
      .transform((value) => value === 'true' || value === '1'),
    UNKNOWN_OUTCOME_WAIT_MINUTES: z.coerce
      .number({ error: 'must be a whole number of minutes' })
      .int('must be a whole number of minutes')
      .min(
        5,
        'must be at least 5: SES can take minutes to publish a Send event, and a row resent before its event arrives is a person mailed twice',
      )
      .default(30),
    CAMPAIGN_COOLDOWN_DAYS: z.coerce.number({ error: 'must be a whole number of days' }).int('must be a whole number of days').min(0, 'must be 0 (no cooldown) or more').default(30),
    REPUTATION_MIN_SAMPLE: positiveInt(200),
    REPUTATION_MAX_BOUNCE_RATE: z.coerce.number().min(0).max(1).default(0.05),
    REPUTATION_MAX_COMPLAINT_RATE: z.coerce.number().min(0).max(1).default(0.001),
    ADMIN_USER: z.string().min(1).default('admin'),
    ADMIN_PASSWORD: z.string().min(1).optional(),
    ADMIN_READ_ONLY: z
      .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
      .default('false')
      .transform((value) => value === 'true' || value === '1'),
    PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).default(3000),
    METRICS_PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .refine((env) => env.TEMP_ACCOUNT_REMINDER_DAYS < env.TEMP_ACCOUNT_TTL_DAYS, {
    message: 'must be smaller than TEMP_ACCOUNT_TTL_DAYS',
    path: ['TEMP_ACCOUNT_REMINDER_DAYS'],
  });

type Parsed = z.infer<typeof schema>;

/** SES_QUOTA_RESERVE: the part of the 24-hour SES quota campaigns leave to the site's other mail. */
export type QuotaReserve = { readonly share: number } | { readonly messages: number };

/** "20%" → a share of 0.2; "5000" → 5000 messages; anything else → undefined. */
export function parseQuotaReserve(value: string): QuotaReserve | undefined {
  const text = value.trim();
  const percent = /^(\d{1,3}(?:\.\d+)?)\s*%$/.exec(text);
  if (percent) {
    const share = Number(percent[1]) / 100;
    return share <= 1 ? { share } : undefined;
  }
  return /^\d{1,12}$/.test(text) ? { messages: Number(text) } : undefined;
}

/** The validated, frozen configuration every part of reverify reads. */
export type Config = Readonly<Omit<Parsed, 'DATABASE_URL'> & { DATABASE_URL: string }>;

/** Variables without a default that a command cannot work without. */
export type RequiredSetting = 'MAIL_FROM' | 'ADMIN_PASSWORD' | 'SNS_TOPIC_ARNS';

/** Variables whose values must never reach a log line. */
export const SECRET_SETTINGS = ['ADMIN_PASSWORD', 'DATABASE_URL', 'QUEUE_DATABASE_URL', 'REDIS_URL'] as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `reverify cannot start: fix these environment variables:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

function isValidCron(expr: string): boolean {
  try {
    CronExpressionParser.parse(expr, { tz: 'UTC' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Builds the configuration from `env`. Throws one ConfigError naming every
 * missing or malformed variable; values are never echoed because some are secrets.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, required: readonly RequiredSetting[] = []): Config {
  const input: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    // An empty variable means "not set": shells and compose files produce them.
    if (value !== undefined && value !== '') input[key] = value;
  }
  const problems: string[] = [];
  const result = schema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = String(issue.path[0] ?? 'environment');
      problems.push(`${name} ${issue.message}`);
    }
  }
  if (input.DATABASE_URL === undefined) {
    problems.push('DATABASE_URL is missing: set it to a PostgreSQL URL such as postgres://user@host:5432/reverify');
  }
  for (const name of required) {
    const missing = name === 'SNS_TOPIC_ARNS' ? !input.SNS_TOPIC_ARNS : input[name] === undefined;
    if (missing) problems.push(`${name} is missing: ${REQUIRED_HINTS[name]}`);
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return Object.freeze({ ...result.data, DATABASE_URL: result.data.DATABASE_URL as string });
}

const REQUIRED_HINTS: Record<RequiredSetting, string> = {
  MAIL_FROM: 'set the sender address, e.g. "Example <noreply@example.org>"',
  ADMIN_PASSWORD: 'set a password for the dashboard (HTTP basic auth as ADMIN_USER)',
  SNS_TOPIC_ARNS: 'set the SNS topic ARNs whose notifications the webhook accepts',
};

/** A copy of the configuration safe to log: secrets replaced, URL passwords masked. */
export function describeConfig(config: Config): Record<string, unknown> {
  const safe: Record<string, unknown> = { ...config };
  safe.ADMIN_PASSWORD = config.ADMIN_PASSWORD === undefined ? undefined : '[redacted]';
  safe.DATABASE_URL = maskUrlPassword(config.DATABASE_URL);
  safe.REDIS_URL = maskUrlPassword(config.REDIS_URL);
  if (config.QUEUE_DATABASE_URL !== undefined) safe.QUEUE_DATABASE_URL = maskUrlPassword(config.QUEUE_DATABASE_URL);
  return safe;
}

function maskUrlPassword(value: string): string {
  const parsed = new URL(value);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
