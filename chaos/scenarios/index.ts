import type { Scenario } from '../lib/types.js';
import { crashScenario } from './crash.js';
import { dbOutageScenario } from './db-outage.js';
import { duplicatesScenario } from './duplicates.js';
import { fuzzScenario } from './fuzz.js';
import { hostileWebhookScenario } from './hostile-webhook.js';
import { queueLossScenario } from './queue-loss.js';
import { scaleOutScenario } from './scale-out.js';
import { sesFaultsScenario } from './ses-faults.js';

/** Every scenario, in the order the suite runs them. */
export const scenarios: readonly Scenario[] = [hostileWebhookScenario, duplicatesScenario, crashScenario, queueLossScenario, sesFaultsScenario, dbOutageScenario, scaleOutScenario, fuzzScenario];
