/**
 * Input echoed back in a response or written to a log line is cut to
 * ECHO_LIMIT characters, with its full length noted, so a 250 KB field costs
 * 250 bytes to refuse, not a 500 KB log line (a refusal must say what was
 * wrong, not repeat it whole).
 */
export const ECHO_LIMIT = 200;

/** `value` itself when short; else its first `limit` characters and "… (N characters)". */
export function clip(value: string, limit = ECHO_LIMIT): string {
  if (value.length <= limit) return value;
  return `${value.slice(0, limit)}… (${value.length} characters)`;
}

/** Every string value of `fields` clipped (one level: log fields are flat). */
export function clipFields(fields: Record<string, unknown>, limit = ECHO_LIMIT): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = typeof value === 'string' ? clip(value, limit) : value;
  return out;
}
