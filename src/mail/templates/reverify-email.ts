import type { TemplateSource } from './types.js';

/**
 * The default re-verification mail. Written to be trusted by a careful reader:
 * it says why it comes, what happens without verification, how to tell it is
 * genuine, and when the link expires. Its only links are the verification URL
 * and the stop URL on the site itself — no tracking, no redirects, no images, no attachments.
 *
 * Variables (see src/mail/render.ts): username, email, verifyUrl, stopUrl, siteName,
 * host, expiresAtText, projectsText.
 */

const subject = 'Please confirm your email address on {{siteName}}';

const text = `Hello {{username}},

Your account "{{username}}" on {{siteName}} holds a role on {{projectsText}}, and its primary email address, {{email}}, has never been verified. We are asking everyone in this situation to confirm their address.

To confirm that this address is yours, open this link and press the "Confirm my address" button on the page it shows:

{{verifyUrl}}

The link works once and expires on {{expiresAtText}}.
{{#if replyToConfirm}}

If you prefer, simply reply to this message instead (the text does not matter): a reply sent from this address confirms it too.
{{/if}}

WHAT HAPPENS IF YOU DO NOT CONFIRM
{{siteName}} will stop sending email to addresses that have not been verified. Your account keeps working, but password reset messages and notifications sent by email will no longer reach you.

HOW TO TELL THIS MESSAGE IS GENUINE
- It has no attachments.
- We never ask for your password, neither in email nor on the page the link opens.
- The only links in it go to {{host}}.
- You do not have to use the link: you can type {{host}} into your browser yourself, sign in, and request a new verification link from your account settings. Do the same if the link has expired.

If this is not your account, or you do not want these messages, open this link and press the "Stop mail to this address" button on the page it shows; we will not write to this address again:

{{stopUrl}}

The {{siteName}} team
`;

const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Please confirm your email address on {{siteName}}</title>
</head>
<body style="margin:0;padding:0;background:#ffffff;color:#1a1a1a;font-family:Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;">
<div style="max-width:600px;margin:0 auto;padding:24px;">
<p>Hello {{username}},</p>
<p>Your account &ldquo;{{username}}&rdquo; on {{siteName}} holds a role on {{projectsText}}, and its primary email address, <strong>{{email}}</strong>, has never been verified. We are asking everyone in this situation to confirm their address.</p>
<p>To confirm that this address is yours, open this link and press the &ldquo;Confirm my address&rdquo; button on the page it shows:</p>
<p style="margin:24px 0;"><a href="{{verifyUrl}}" style="display:inline-block;padding:12px 20px;background:#0b5cad;color:#ffffff;text-decoration:none;border-radius:4px;">Confirm my email address</a></p>
<p>If the button does not work, copy this address into your browser:<br><span style="word-break:break-all;">{{verifyUrl}}</span></p>
<p>The link works once and expires on <strong>{{expiresAtText}}</strong>.</p>
{{#if replyToConfirm}}<p>If you prefer, simply reply to this message instead (the text does not matter): a reply sent from this address confirms it too.</p>
{{/if}}<h2 style="font-size:18px;margin:32px 0 8px;">What happens if you do not confirm</h2>
<p>{{siteName}} will stop sending email to addresses that have not been verified. Your account keeps working, but password reset messages and notifications sent by email will no longer reach you.</p>
<h2 style="font-size:18px;margin:32px 0 8px;">How to tell this message is genuine</h2>
<ul>
<li>It has no attachments.</li>
<li>We never ask for your password, neither in email nor on the page the link opens.</li>
<li>The only links in it go to {{host}}.</li>
<li>You do not have to use the link: you can type {{host}} into your browser yourself, sign in, and request a new verification link from your account settings. Do the same if the link has expired.</li>
</ul>
<p>If this is not your account, or you do not want these messages, <a href="{{stopUrl}}">stop mail to this address</a>; we will not write to it again.</p>
<p>The {{siteName}} team</p>
</div>
</body>
</html>
`;

export const reverifyEmail: TemplateSource = { subject, text, html };
