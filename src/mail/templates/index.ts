import { reverifyEmail } from './reverify-email.js';
import { verificationRequest } from './verification-request.js';
import type { TemplateSource } from './types.js';

/**
 * Every template reverify can send, by name. Templates are TypeScript string
 * modules rather than .hbs files so they ship inside the build (tsc does not
 * copy non-TS files) and work the same from src/, dist/ and the Docker image.
 * To add one: write a module beside this one and list it here.
 */
export const templates: Readonly<Record<string, TemplateSource>> = {
  'reverify-email': reverifyEmail,
  'verification-request': verificationRequest,
};

export type { TemplateSource } from './types.js';
