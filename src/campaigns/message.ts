import type { Config } from '../config.js';
import { findExternalLinks } from '../mail/link-lint.js';
import { renderTemplate, siteNameFromBaseUrl, templateSource, type RenderedMessage } from '../mail/render.js';
import { linkLocations } from '../mail/template-dir.js';
import { replyAddress } from '../verification/reply-secret.js';
import { stopUrl } from '../verification/stop-tokens.js';
import { verificationUrl } from '../verification/tokens.js';

/** Who a campaign message is for. */
export interface MessageRecipient {
  username: string;
  email: string;
  projects: string[];
}

/** The secrets a campaign message carries: its verification token (and expiry) and its stop token. */
export interface MessageTokens {
  token: string;
  expiresAt: Date;
  stopToken: string;
}

/** Renders campaign template `template` for one recipient, their verification and stop tokens (and reply address, when replies confirm). */
export function renderCampaignMessage(
  config: Pick<Config, 'PUBLIC_BASE_URL'>,
  template: string,
  recipient: MessageRecipient,
  token: MessageTokens,
  replyAddress?: string,
): RenderedMessage {
  const baseUrl = config.PUBLIC_BASE_URL.replace(/\/+$/, '');
  return renderTemplate(template, {
    username: recipient.username,
    email: recipient.email,
    verifyUrl: verificationUrl(baseUrl, token.token),
    stopUrl: stopUrl(baseUrl, token.stopToken),
    siteName: siteNameFromBaseUrl(config.PUBLIC_BASE_URL),
    baseUrl,
    expiresAt: token.expiresAt,
    projects: recipient.projects,
    replyAddress,
  });
}

/** A recipient for previews and link checks when the segment is empty. */
export const SAMPLE_RECIPIENT: MessageRecipient = { username: 'example-user', email: 'example-user@example.org', projects: ['example-project'] };

/** Tokens that look like real ones but confirm and stop nothing (previews, link checks). */
export function sampleToken(now: Date, ttlHours: number): MessageTokens {
  return {
    token: 'PREVIEW-ONLY-this-link-confirms-nothing-000',
    expiresAt: new Date(now.getTime() + ttlHours * 3_600_000),
    stopToken: 'PREVIEW-ONLY-this-link-stops-nothing-000000',
  };
}

/**
 * The message as `recipient` would receive it, with sample tokens: what a
 * preview shows and the link check reads. With REPLY_DOMAIN it carries a
 * sample reply address too, so the "reply to confirm" paragraph shows as sent.
 */
export function renderSampleMessage(
  config: Pick<Config, 'PUBLIC_BASE_URL' | 'VERIFY_TOKEN_TTL_HOURS' | 'REPLY_DOMAIN'>,
  template: string,
  recipient: MessageRecipient,
  now: Date,
): RenderedMessage {
  const sampleReplyAddress = replyAddress(config.REPLY_DOMAIN, '0', 'preview-only');
  return renderCampaignMessage(config, template, recipient, sampleToken(now, config.VERIFY_TOKEN_TTL_HOURS), sampleReplyAddress);
}

/** Links in the rendered template that lead anywhere but PUBLIC_BASE_URL. */
export function externalLinksOf(config: Pick<Config, 'PUBLIC_BASE_URL' | 'VERIFY_TOKEN_TTL_HOURS' | 'REPLY_DOMAIN'>, template: string, now: Date): string[] {
  const message = renderSampleMessage(config, template, SAMPLE_RECIPIENT, now);
  return findExternalLinks(message, config.PUBLIC_BASE_URL);
}

/**
 * Campaign mail carries no link except to the site itself: a template that
 * links elsewhere is refused unless the campaign allows it explicitly.
 */
export class ExternalLinksError extends Error {
  constructor(
    readonly template: string,
    readonly baseUrl: string,
    readonly links: readonly string[],
    /** For an operator's template: "file:line: link" for each link. */
    readonly locations: readonly string[] = [],
  ) {
    super(
      `template "${template}" links outside PUBLIC_BASE_URL (${baseUrl}): ${links.join(', ')}\n` +
        locations.map((where) => `  ${where}\n`).join('') +
        'Campaign mail links only to the site itself, and there only to its verification and stop links; allow external links for this campaign if these links are intended.',
    );
    this.name = 'ExternalLinksError';
  }
}

/** Throws ExternalLinksError when `template` links anywhere but PUBLIC_BASE_URL. */
export function refuseExternalLinks(config: Pick<Config, 'PUBLIC_BASE_URL' | 'VERIFY_TOKEN_TTL_HOURS' | 'REPLY_DOMAIN'>, template: string, now: Date): void {
  const external = externalLinksOf(config, template, now);
  if (external.length > 0) throw new ExternalLinksError(template, config.PUBLIC_BASE_URL, external, linkLocations(templateSource(template), external));
}
