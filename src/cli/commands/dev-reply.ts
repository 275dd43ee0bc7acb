import { loadConfig } from '../../config.js';
import { parseFlags, printResult, UsageError } from './command.js';

export const DEV_REPLY_HELP = `
Usage: reverify dev reply ADDRESS [--json]

In the dev stack (run "source DIR/env" first, or set the same variables):
replies from ADDRESS to the latest verification mail the local SES holds for
it, as SES inbound mail would deliver the reply: a signed "Received"
notification with passing SPF, DKIM, DMARC, spam and virus verdicts, posted to
the running server's webhook (PUBLIC_BASE_URL/webhooks/ses). The address is
confirmed as by its link, with the audit channel "reply"; a second reply is
refused (the token is used) and recorded all the same.

Reads SES_ENDPOINT, PUBLIC_BASE_URL, SNS_TOPIC_ARNS (the first), SNS_CERT_CACHE_DIR
and AWS_REGION. --json prints {"status", "body", "repliedTo"}: the webhook's
HTTP status and answer, and the MessageId of the mail replied to.
Exit status: 0 the webhook confirmed the address, 1 it refused the reply, 2 bad input.`;

/** `reverify dev reply ADDRESS`. */
export async function runDevReply(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('dev reply', argv, {}, true);
  const [address, ...extra] = positionals;
  if (address === undefined || extra.length > 0 || !/^[^\s@]+@[^\s@]+$/.test(address)) {
    throw new UsageError('say who replies: "reverify dev reply ADDRESS" (one email address)');
  }
  const config = loadConfig();
  if (config.SES_ENDPOINT === undefined) throw new UsageError('SES_ENDPOINT is not set: run "source <dev data dir>/env" to point at the dev stack');
  const topicArn = config.SNS_TOPIC_ARNS[0];
  if (topicArn === undefined) throw new UsageError('SNS_TOPIC_ARNS is not set: run "source <dev data dir>/env" to point at the dev stack');
  // Imported only here: the dev tools use devDependencies (selfsigned) the production image does not have.
  const { DevReplyError, replyToLatestVerification } = await import('../../dev/reply.js');
  try {
    const result = await replyToLatestVerification({
      address,
      sesEndpoint: config.SES_ENDPOINT,
      webhookUrl: `${config.PUBLIC_BASE_URL.replace(/\/+$/, '')}/webhooks/ses`,
      topicArn,
      certCacheDir: config.SNS_CERT_CACHE_DIR,
      region: config.AWS_REGION,
    });
    const body = result.body as { outcome?: string; reason?: string };
    printResult(values.json, result, () => `Replied as ${address}: the webhook answered ${result.status} ${JSON.stringify(result.body)}`);
    return result.status === 200 && body.outcome === 'verified' ? 0 : 1;
  } catch (error) {
    if (error instanceof DevReplyError) throw new UsageError(error.message);
    throw error;
  }
}
