/**
 * A mail template: three Handlebars sources. The HTML source is compiled with
 * HTML escaping; the subject and text sources are compiled without it, because
 * they are not HTML (an escaped `&amp;` would show up literally).
 */
export interface TemplateSource {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** Where each part was read from, for an operator's template (TEMPLATES_DIR): errors name the file and line. */
  readonly files?: { readonly subject: string; readonly text: string; readonly html: string };
}
