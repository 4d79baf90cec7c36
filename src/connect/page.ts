import type { ConfigurationField } from '../connectors/schema.js';

/**
 * The connect page's HTML: server-rendered, no script at all (its CSP has no script-src), every
 * value escaped. A form has one submit button and each input's `name` is its configuration key,
 * so tools can drive it as well as people; an error is printed next to the field it is about.
 */
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (value: unknown): string => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/console/style.css">
</head>
<body class="connect">
<main>
${body}
</main>
</body>
</html>
`;
}

export interface FormPage {
  /** The connector's display name. */
  title: string;
  action: string;
  csrf: string;
  /** The chosen connector (sent back with the form). */
  connector: string;
  fields: ConfigurationField[];
  /** What the user typed before (secrets are never sent back to the browser). */
  values: Record<string, string>;
  errors: Record<string, string[]>;
  /** Problems that are about no shown field. */
  formErrors: string[];
  submitLabel: string;
  /** A reconnect names the instance it repairs. */
  intro: string;
}

function fieldHtml(f: ConfigurationField, value: string | undefined, errors: string[] | undefined): string {
  const id = `f-${f.key.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  const type = f.secret ? 'password' : f.type === 'number' ? 'number' : 'text';
  const attrs = [
    `id="${id}"`,
    `name="${escapeHtml(f.key)}"`,
    `type="${type}"`,
    f.required ? 'required' : '',
    f.secret ? 'autocomplete="off"' : '',
    !f.secret && value !== undefined ? `value="${escapeHtml(value)}"` : '',
    errors?.length ? `aria-invalid="true" aria-describedby="${id}-error"` : '',
  ].filter(Boolean);
  return `<div class="field${errors?.length ? ' invalid' : ''}" data-field="${escapeHtml(f.key)}">
<label for="${id}">${escapeHtml(f.key)}${f.required ? ' <span class="required">(required)</span>' : ''}</label>
${f.description ? `<p class="muted">${escapeHtml(f.description)}</p>` : ''}
<input ${attrs.join(' ')}>
${errors?.length ? `<p class="field-error" id="${id}-error" role="alert">${errors.map(escapeHtml).join('; ')}</p>` : ''}
</div>`;
}

export function formPage(p: FormPage): string {
  const fields = p.fields.map((f) => fieldHtml(f, p.values[f.key], p.errors[f.key])).join('\n');
  return layout(
    `Connect ${p.title}`,
    `<h1>Connect ${escapeHtml(p.title)}</h1>
<p>${escapeHtml(p.intro)}</p>
${p.formErrors.length ? `<div class="error" role="alert" data-form-errors>${p.formErrors.map((e) => `<p>${escapeHtml(e)}</p>`).join('')}</div>` : ''}
<form method="post" action="${escapeHtml(p.action)}" data-form="connect">
<input type="hidden" name="csrf" value="${escapeHtml(p.csrf)}">
<input type="hidden" name="connector" value="${escapeHtml(p.connector)}">
${fields}
<button type="submit">${escapeHtml(p.submitLabel)}</button>
</form>`,
  );
}

/** A session offering several connectors: the end user picks one first (a GET form, one button). */
export function chooserPage(action: string, connectors: Array<{ key: string; name: string }>): string {
  return layout(
    'Connect an account',
    `<h1>Connect an account</h1>
<form method="get" action="${escapeHtml(action)}" data-form="choose">
<label for="connector">Service</label>
<select id="connector" name="connector">${connectors.map((c) => `<option value="${escapeHtml(c.key)}">${escapeHtml(c.name)}</option>`).join('')}</select>
<button type="submit">Continue</button>
</form>`,
  );
}

/** An end state or a refusal: a heading, what happened, and (for errors) what the provider said. */
export function messagePage(title: string, message: string, o: { error?: string; ok?: boolean } = {}): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1>
<div class="${o.ok ? 'notice' : 'error'}" role="${o.ok ? 'status' : 'alert'}" data-outcome="${o.ok ? 'ok' : 'refused'}">
<p>${escapeHtml(message)}</p>
${o.error ? `<p>Error: <code data-error>${escapeHtml(o.error)}</code></p>` : ''}
</div>`,
  );
}
