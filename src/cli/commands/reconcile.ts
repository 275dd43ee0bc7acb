import { createApp } from '../../app/app.js';
import { loadConfig } from '../../config.js';
import { reconcileQueue } from '../../app/processing.js';
import { parseFlags, printResult, UsageError, type Command } from './command.js';

export const reconcileCommand: Command = {
  name: 'reconcile',
  summary: 're-enqueue every unfinished ledger row the queue lost',
  help: `
Usage: reverify reconcile [--json]

Puts the queue back in step with the database (the source of truth): every
queued campaign recipient of a running campaign whose send job is missing gets
it back (same job id, so nothing is doubled); rows queued for an earlier day go
back to pending for a new day's budget; rows left "sending" for over 15
minutes by a process that died have an unknown outcome (SES may have taken
them): with SES_SEND_EVENTS=true they wait as "unconfirmed" for SES's events,
and those no event named within UNKNOWN_OUTCOME_WAIT_MINUTES of their claim
go back to queued, to be sent once; without Send events they are failed as
unknown_outcome_after_crash and never resent. Missing schedules (campaign ticks,
sweeps, reconcile itself) are registered again. A running worker does the
same by itself within a minute of finding its schedules gone. The worker also runs this on RECONCILE_CRON.

--json prints {"requeued", "released", "unknownOutcome", "unconfirmed", "resentUnconfirmed", "schedulesRestored"}.`,
  async run(argv) {
    const { values, positionals } = parseFlags('reconcile', argv, {}, true);
    if (positionals.length > 0) throw new UsageError(`reconcile takes no arguments, got "${positionals.join(' ')}"`);
    const app = createApp(loadConfig());
    try {
      const result = await reconcileQueue(app);
      printResult(values.json, result, () =>
        `Re-enqueued ${result.requeued} lost send jobs; released ${result.released} rows queued for an earlier day; ` +
          `${result.unknownOutcome} rows left sending by a crash marked failed; ${result.unconfirmed} waiting for SES's events; ` +
          `${result.resentUnconfirmed} that no SES event named in time queued to be sent again; ${result.schedulesRestored} schedules restored.`,
      );
      return 0;
    } finally {
      await app.close();
    }
  },
};
