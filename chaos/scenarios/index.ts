import type { Scenario } from '../lib/types.js';
import { crashScenario } from './crash.js';
import { duplicatesScenario } from './duplicates.js';
import { hostileWebhookScenario } from './hostile-webhook.js';
import { queueLossScenario } from './queue-loss.js';

/** Every scenario, in the order the suite runs them. */
export const scenarios: readonly Scenario[] = [hostileWebhookScenario, duplicatesScenario, crashScenario, queueLossScenario];
