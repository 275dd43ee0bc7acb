import { X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import type { Clock } from '../../src/app/app.js';
import type { Config } from '../../src/config.js';
import type { Db } from '../../src/db/connect.js';
import { createLocalSnsSigner } from '../../src/dev/sns-signer.js';
import { createSnsWebhook } from '../../src/ses-events/webhook.js';
import {
  keepRegression,
  readRegressions,
  sesParseProperty,
  signatureProperty,
  snsParseProperty,
  stateMachineProperty,
  webhookProperty,
  type PropertyName,
} from './properties.js';

export const FUZZ_TOPIC = 'arn:aws:sns:us-east-1:123456789012:reverify-fuzz';

/** Each property with the number of runs of the bounded (npm test) pass; the long pass multiplies them. */
export const BOUNDED_RUNS: Record<PropertyName, number> = { 'sns-parse': 300, 'ses-parse': 300, signature: 60, webhook: 40, 'state-machine': 300 };

export type AnyProperty = fc.IProperty<unknown> | fc.IAsyncProperty<unknown>;

/** Builds every property; the webhook one runs against `db` with the configuration given. */
export async function buildProperties(db: Db, config: (overrides: Record<string, string>) => Config, clock: Clock): Promise<Record<PropertyName, AnyProperty>> {
  const certCacheDir = await mkdtemp(path.join(tmpdir(), 'rv-fuzz-certs-'));
  const signer = await createLocalSnsSigner({ certCacheDir });
  const webhook = createSnsWebhook({
    db,
    config: config({ SNS_TOPIC_ARNS: FUZZ_TOPIC, SNS_CERT_CACHE_DIR: certCacheDir }),
    log: pino({ level: 'silent' }),
    clock,
    // As the SNS host answers for a certificate it does not have (a mutated SigningCertURL).
    fetch: async () => ({ ok: false, status: 404, text: async () => 'NoSuchKey' }),
  });
  const publicKey = new X509Certificate(signer.certificatePem).publicKey;
  return {
    'sns-parse': snsParseProperty() as AnyProperty,
    'ses-parse': sesParseProperty() as AnyProperty,
    signature: signatureProperty(signer, FUZZ_TOPIC, publicKey) as AnyProperty,
    webhook: webhookProperty(webhook, signer, FUZZ_TOPIC) as AnyProperty,
    'state-machine': stateMachineProperty() as AnyProperty,
  };
}

export interface FuzzOutcome {
  readonly property: PropertyName;
  readonly runs: number;
  readonly failed: boolean;
  /** fast-check's report of the counterexample (with its seed and path). */
  readonly report?: string;
  readonly seed?: number;
  readonly path?: string;
}

/** Runs `numRuns` of one property; a failure's seed and path are kept in regressions.json when `keep`. */
export async function fuzz(name: PropertyName, property: AnyProperty, numRuns: number, keep: boolean): Promise<FuzzOutcome> {
  const details = await fc.check(property as fc.IAsyncProperty<unknown>, { numRuns });
  if (!details.failed) return { property: name, runs: details.numRuns, failed: false };
  const report = fc.defaultReportMessage(details) ?? 'failed';
  const pathText = details.counterexamplePath ?? '';
  if (keep) {
    await keepRegression({ property: name, seed: details.seed, path: pathText, found: new Date().toISOString().slice(0, 10), note: report.split('\n')[0] ?? '' });
  }
  return { property: name, runs: details.numRuns, failed: true, report, seed: details.seed, path: pathText };
}

/** Replays every kept counterexample of `name`; the reports of those that fail again. */
export async function replayRegressions(name: PropertyName, property: AnyProperty): Promise<string[]> {
  const failures: string[] = [];
  for (const regression of (await readRegressions()).filter((r) => r.property === name)) {
    const details = await fc.check(property as fc.IAsyncProperty<unknown>, { seed: regression.seed, path: regression.path, endOnFailure: true });
    if (details.failed) failures.push(fc.defaultReportMessage(details) ?? `seed ${regression.seed} failed again`);
  }
  return failures;
}
