import type { Job } from 'bullmq';
import type { z } from 'zod';
import type { App } from '../app/app.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { QueueName } from './names.js';

/** What a job handler receives besides its payload. */
export interface JobContext {
  readonly app: App;
  readonly job: Job;
  /** Tagged with queue, job name and job id. */
  readonly log: Logger;
  /** The worker's lock token, needed to move a job back (rate limit, delay). */
  readonly token: string | undefined;
  /** Whether this worker keeps the send rate (false only where a benchmark turns the limiter off). */
  readonly rateLimited: boolean;
}

/**
 * A job: its name, the queue it runs on, the schema its payload must satisfy
 * when it runs (old jobs outlive deploys, so nothing is trusted) and a handler
 * that calls domain code. Handlers throw to retry.
 */
export interface JobDefinition<Payload = unknown> {
  readonly name: string;
  readonly queue: QueueName;
  readonly payload: z.ZodType<Payload>;
  handle(payload: Payload, ctx: JobContext): Promise<unknown>;
  /** A fixed schedule registered when the worker starts (cron, UTC). */
  schedule?(config: Config): { pattern: string; data: Payload } | undefined;
}

/** Identity function that keeps the payload type of a job definition. */
export function defineJob<Payload>(definition: JobDefinition<Payload>): JobDefinition<Payload> {
  return definition;
}

/** A job of any payload, as the registry and the worker hold them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJob = JobDefinition<any>;
