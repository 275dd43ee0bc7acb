import type { Config } from '../config.js';
import { findExternalLinks } from '../mail/link-lint.js';
import { renderTemplate, siteNameFromBaseUrl, type RenderedMessage } from '../mail/render.js';
import { verificationUrl } from '../verification/tokens.js';

/** Who a campaign message is for. */
export interface MessageRecipient {
  username: string;
  email: string;
  projects: string[];
}

/** Renders campaign template `template` for one recipient and their verification token (and reply address, when replies confirm). */
export function renderCampaignMessage(
  config: Pick<Config, 'PUBLIC_BASE_URL'>,
  template: string,
  recipient: MessageRecipient,
  token: { token: string; expiresAt: Date },
  replyAddress?: string,
): RenderedMessage {
  const baseUrl = config.PUBLIC_BASE_URL.replace(/\/+$/, '');
  return renderTemplate(template, {
    username: recipient.username,
    email: recipient.email,
    verifyUrl: verificationUrl(baseUrl, token.token),
    siteName: siteNameFromBaseUrl(config.PUBLIC_BASE_URL),
    baseUrl,
    expiresAt: token.expiresAt,
    projects: recipient.projects,
    replyAddress,
  });
}

/** A recipient for previews and link checks when the segment is empty. */
export const SAMPLE_RECIPIENT: MessageRecipient = { username: 'example-user', email: 'example-user@example.org', projects: ['example-project'] };

/** A token that looks like a real one but confirms nothing (previews, link checks). */
export function sampleToken(now: Date, ttlHours: number): { token: string; expiresAt: Date } {
  return { token: 'PREVIEW-ONLY-this-link-confirms-nothing-000', expiresAt: new Date(now.getTime() + ttlHours * 3_600_000) };
}

/** Links in the rendered template that lead anywhere but PUBLIC_BASE_URL. */
export function externalLinksOf(config: Pick<Config, 'PUBLIC_BASE_URL' | 'VERIFY_TOKEN_TTL_HOURS'>, template: string, now: Date): string[] {
  const message = renderCampaignMessage(config, template, SAMPLE_RECIPIENT, sampleToken(now, config.VERIFY_TOKEN_TTL_HOURS));
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
  ) {
    super(
      `template "${template}" links outside PUBLIC_BASE_URL (${baseUrl}): ${links.join(', ')}\n` +
        'Campaign mail should link only to the site itself; allow external links for this campaign if these links are intended.',
    );
    this.name = 'ExternalLinksError';
  }
}

/** Throws ExternalLinksError when `template` links anywhere but PUBLIC_BASE_URL. */
export function refuseExternalLinks(config: Pick<Config, 'PUBLIC_BASE_URL' | 'VERIFY_TOKEN_TTL_HOURS'>, template: string, now: Date): void {
  const external = externalLinksOf(config, template, now);
  if (external.length > 0) throw new ExternalLinksError(template, config.PUBLIC_BASE_URL, external);
}
