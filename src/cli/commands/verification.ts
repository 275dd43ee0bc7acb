import { createApp } from '../../app/app.js';
import { loadConfig } from '../../config.js';
import { sesClientFor } from '../../mail/ses-client.js';
import { sendGateFor } from '../../pace/send-gate.js';
import { sendSlotsFor } from '../../pace/send-slots.js';
import { OperatorRequestError, requestAsOperator, resolveRequestedUser } from '../../verification/requests/operator-request.js';
import { parseFlags, printResult, UsageError, type Command } from './command.js';

export const verificationCommand: Command = {
  name: 'verification',
  summary: "send a user a verification mail on an operator's request",
  help: `
Usage: reverify verification request --user ID [--json]
       reverify verification request --email ADDRESS [--json]

Inserts a verification_requests row with requested_by = "operator" and
processes it on the same path as the site's rows: the user must be active and
not temporary, the primary address unverified; the throttle applies
(VERIFICATION_REQUESTS_PER_DAY a day and one per 10 minutes per address); a
suppressed address gets the mail, an address that complained does not (only
its owner can ask for that). The mail goes through the account's send pace.
--email must be a user's primary address.

--json prints {"id", "userId", "email", "outcome", "reason"}; outcome is one of
sent, throttled, not_eligible, failed, retrying (a worker tries again later).

Exit status: 0 sent, 1 not sent (the outcome says why), 2 bad flags, unknown
user or address, or configuration.`,
  async run(argv) {
    const { values, positionals } = parseFlags('verification', argv, { user: { type: 'string' }, email: { type: 'string' } }, true);
    const [action, ...extra] = positionals;
    if (action !== 'request' || extra.length > 0) {
      throw new UsageError('say what to do: "reverify verification request --user ID" or "--email ADDRESS"');
    }
    if ((values.user === undefined) === (values.email === undefined)) throw new UsageError('give exactly one of --user ID and --email ADDRESS');
    if (values.user !== undefined && !/^[1-9]\d{0,18}$/.test(values.user)) throw new UsageError(`--user must be a user id (a whole number), got "${values.user}"`);
    if (values.email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(values.email)) throw new UsageError(`--email must be an email address, got "${values.email}"`);
    const app = createApp(loadConfig(process.env, ['MAIL_FROM']), { dbPoolSize: 2 });
    try {
      const userId = await resolveRequestedUser(app, { userId: values.user, email: values.email }).catch((error: unknown) => {
        throw error instanceof OperatorRequestError ? new UsageError(error.message) : error;
      });
      const result = await requestAsOperator(app, userId, { ses: sesClientFor(app), gate: sendGateFor(app), slots: sendSlotsFor(app) });
      printResult(values.json, result, () =>
        result.outcome === 'sent'
          ? `Verification mail sent to ${result.email} (request #${result.id}).`
          : `No verification mail sent for user ${result.userId}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''} (request #${result.id}).`,
      );
      return result.outcome === 'sent' ? 0 : 1;
    } finally {
      await app.close();
    }
  },
};
