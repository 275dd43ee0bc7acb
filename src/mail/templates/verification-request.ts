import type { TemplateSource } from './types.js';

/**
 * The verification mail a user (or an operator on their behalf) asks for:
 * "send me a new link". Short, and like the campaign mail it links only to the
 * site itself (the verify link and the stop link), and says how to tell it is genuine.
 *
 * Variables (see src/mail/render.ts): username, email, verifyUrl, stopUrl, siteName,
 * host, expiresAtText, replyToConfirm.
 */

const subject = 'Confirm your email address on {{siteName}}';

const text = `Hello {{username}},

A new link to confirm the email address {{email}} of your account "{{username}}" on {{siteName}} was requested. To confirm that this address is yours, open this link and press the "Confirm my address" button on the page it shows:

{{verifyUrl}}

The link works once and expires on {{expiresAtText}}.
{{#if replyToConfirm}}

If you prefer, simply reply to this message instead (the text does not matter): a reply sent from this address confirms it too.
{{/if}}

We never ask for your password, and the only links in this message go to {{host}}. If you did not ask for this message, you can ignore it: nothing changes until the address is confirmed. If this is not your account and you want no more of these messages, open this link and press the "Stop mail to this address" button on the page it shows:

{{stopUrl}}

The {{siteName}} team
`;

const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Confirm your email address on {{siteName}}</title>
</head>
<body style="margin:0;padding:0;background:#ffffff;color:#1a1a1a;font-family:Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;">
<div style="max-width:600px;margin:0 auto;padding:24px;">
<p>Hello {{username}},</p>
<p>A new link to confirm the email address <strong>{{email}}</strong> of your account &ldquo;{{username}}&rdquo; on {{siteName}} was requested. To confirm that this address is yours, open this link and press the &ldquo;Confirm my address&rdquo; button on the page it shows:</p>
<p style="margin:24px 0;"><a href="{{verifyUrl}}" style="display:inline-block;padding:12px 20px;background:#0b5cad;color:#ffffff;text-decoration:none;border-radius:4px;">Confirm my email address</a></p>
<p>If the button does not work, copy this address into your browser:<br><span style="word-break:break-all;">{{verifyUrl}}</span></p>
<p>The link works once and expires on <strong>{{expiresAtText}}</strong>.</p>
{{#if replyToConfirm}}<p>If you prefer, simply reply to this message instead (the text does not matter): a reply sent from this address confirms it too.</p>
{{/if}}<p>We never ask for your password, and the only links in this message go to {{host}}. If you did not ask for this message, you can ignore it: nothing changes until the address is confirmed. If this is not your account and you want no more of these messages, <a href="{{stopUrl}}">stop mail to this address</a>.</p>
<p>The {{siteName}} team</p>
</div>
</body>
</html>
`;

export const verificationRequest: TemplateSource = { subject, text, html };
