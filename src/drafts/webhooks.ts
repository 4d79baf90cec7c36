import { type Description, isObject, type JsonObject, pointer } from './description.js';
import { propertiesOf } from './operations.js';

/**
 * Webhook events a description names — OpenAPI 3.1 `webhooks`, or operation `callbacks` — with the
 * payload schema and, where the payload holds an object with an `id`, where that id is. They go
 * into the report as a mapping draft: registration and signatures are not described by OpenAPI,
 * so webhook mode stays a decision for a person.
 */

export interface WebhookDraft {
  event: string;
  from: string;
  payload?: string;
  idField?: string;
}

function payloadOf(d: Description, op: JsonObject, at: string): { schema: JsonObject; at: string } | undefined {
  const body = isObject(op.requestBody) ? op.requestBody : undefined;
  const content = body && isObject(body.content) ? body.content : undefined;
  const media = content ? Object.entries(content).find(([t]) => /json/i.test(t)) : undefined;
  if (!media || !isObject(media[1]) || !isObject(media[1].schema)) return undefined;
  const schema = media[1].schema;
  return { schema, at: d.pointerOf(schema) ?? `${at}/requestBody/content/${media[0].replace('/', '~1')}/schema` };
}

/** The id of the object a payload carries: `id`, or `<object>.id` one level down (`data.object.id` two). */
function idPathOf(schema: JsonObject): string | undefined {
  const props = propertiesOf(schema);
  if (props.has('id')) return '$.id';
  for (const [name, s] of props) {
    const inner = propertiesOf(s);
    if (inner.has('id')) return `$.${name}.id`;
    for (const [deep, t] of inner) if (propertiesOf(t).has('id')) return `$.${name}.${deep}.id`;
  }
  return undefined;
}

export function webhooksOf(d: Description): WebhookDraft[] {
  const found: WebhookDraft[] = [];
  const add = (event: string, item: unknown, at: string) => {
    if (!isObject(item)) return;
    const [method, op] = Object.entries(item).find(([m, o]) => /^(post|put)$/i.test(m) && isObject(o)) ?? [];
    if (!method || !isObject(op)) return;
    const payload = payloadOf(d, op, `${at}/${method}`);
    const idField = payload ? idPathOf(payload.schema) : undefined;
    found.push({ event, from: `${at}/${method}`, ...(payload ? { payload: payload.at } : {}), ...(idField ? { idField } : {}) });
  };
  if (isObject(d.doc.webhooks)) for (const [event, item] of Object.entries(d.doc.webhooks)) add(event, item, pointer('webhooks', event));
  const paths = isObject(d.doc.paths) ? d.doc.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const [method, op] of Object.entries(item)) {
      if (!isObject(op) || !isObject(op.callbacks)) continue;
      for (const [name, callback] of Object.entries(op.callbacks)) {
        if (!isObject(callback)) continue;
        for (const [expression, cbItem] of Object.entries(callback)) add(name, cbItem, pointer('paths', path, method, 'callbacks', name, expression));
      }
    }
  }
  return found;
}
