import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import got from 'got';
import { buildSchema, execute, getVariableValues, Kind, parse, validate, type GraphQLSchema } from 'graphql';
import { EmulatedProvider, type CannedResponse, type RouteRequest } from '../../../sandbox/provider-server.js';

/**
 * Linear's GraphQL API as Linear publishes it: every document is validated against the vendored
 * subset of Linear's schema (scripts/graphql-subsets/linear.ts) and executed against it.
 *
 * - Endpoint and auth, from @linear/sdk's client (https://github.com/linear/linear
 *   packages/sdk/src/client.ts): `apiUrl ?? "https://api.linear.app/graphql"`, and "Use bearer if
 *   oauth token exists, otherwise use the provided apiKey" — `Authorization: <api key>` as is, or
 *   `Authorization: Bearer <OAuth token>`. A request without accepted credentials answers 401 (the
 *   text of Linear's error is not modelled).
 * - `issues(filter, first, after, orderBy)`, from the schema's descriptions: `first` "The number of
 *   items to forward paginate (used with after). Defaults to 50."; `orderBy` "By which field should
 *   the pagination order by. Available options are createdAt (default) and updatedAt.";
 *   `includeArchived` "Should archived resources be included (default: false)"; `DateComparator.gt`
 *   "Matches any values that are greater than the given value." The sort direction is not stated
 *   there: this emulator answers newest first, which the poller must not rely on either way.
 * - Webhooks, from @linear/sdk's LinearWebhookClient (packages/sdk/src/webhooks/client.ts; it
 *   points at https://linear.app/developers/webhooks#securing-webhooks): the `linear-signature`
 *   header is the hex HMAC-SHA256 of the raw body with the webhook's secret, and the body's
 *   `webhookTimestamp` (ms) must be within a minute ("Throw error if more than one minute delta
 *   between provided ts and current time").
 */
export const LINEAR_SCHEMA: GraphQLSchema = buildSchema(readFileSync(new URL('./schema.subset.graphql', import.meta.url), 'utf8'));

export interface LinearIssue {
  id: string;
  identifier: string;
  title: string;
  url: string;
  createdAt: string;
  updatedAt: string;
  archivedAt: string | null;
  canceledAt: string | null;
  completedAt: string | null;
  priority: number;
  state: { id: string; name: string; type: string };
  team: { id: string; key: string };
  assignee: { id: string; name: string } | null;
}

type IssuesArgs = { first?: number; after?: string; orderBy?: 'createdAt' | 'updatedAt'; includeArchived?: boolean; filter?: { updatedAt?: { gt?: string } } };

export class LinearEmulator {
  readonly issues = new Map<string, LinearIssue>();
  /** Every document received, with its validation errors. */
  readonly documents: Array<{ query: string; variables: Record<string, unknown>; errors: string[] }> = [];
  private seq = 0;

  private constructor(
    readonly provider: EmulatedProvider,
    readonly apiKey: string,
  ) {
    provider.route('POST', '/graphql', (req) => this.graphql(req));
  }

  static async start(apiKey: string): Promise<LinearEmulator> {
    return new LinearEmulator(await EmulatedProvider.start(), apiKey);
  }

  get baseUrl(): string {
    return this.provider.url;
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  create(title: string): LinearIssue {
    const n = ++this.seq;
    const at = new Date(this.provider.now()).toISOString();
    const issue: LinearIssue = {
      id: randomUUID(),
      identifier: `ENG-${n}`,
      title,
      url: `https://linear.app/acme/issue/ENG-${n}`,
      createdAt: at,
      updatedAt: at,
      archivedAt: null,
      canceledAt: null,
      completedAt: null,
      priority: 0,
      state: { id: 'state-todo', name: 'Todo', type: 'unstarted' },
      team: { id: 'team-eng', key: 'ENG' },
      assignee: null,
    };
    this.issues.set(issue.id, issue);
    return issue;
  }

  update(id: string, fields: Partial<LinearIssue>): LinearIssue {
    const issue = this.issues.get(id)!;
    Object.assign(issue, fields, { updatedAt: new Date(this.provider.now()).toISOString() });
    return issue;
  }

  private async graphql(req: RouteRequest): Promise<CannedResponse> {
    // A test that sets provider.requireAuth (an OAuth server's bearer tokens) has them checked before this route.
    if (!this.provider.requireAuth && req.headers.authorization !== this.apiKey)
      return { status: 401, body: { errors: [{ message: 'Authentication required' }] } };
    const { query, variables = {} } = (req.json ?? {}) as { query?: unknown; variables?: Record<string, unknown> };
    if (typeof query !== 'string') return { status: 400, body: { errors: [{ message: 'Must provide query string.' }] } };
    let errors: string[];
    let document: ReturnType<typeof parse> | undefined;
    try {
      document = parse(query);
      errors = validate(LINEAR_SCHEMA, document).map((e) => e.message);
      for (const def of document.definitions)
        if (!errors.length && def.kind === Kind.OPERATION_DEFINITION)
          errors.push(...(getVariableValues(LINEAR_SCHEMA, def.variableDefinitions ?? [], variables).errors ?? []).map((e) => e.message));
    } catch (err) {
      errors = [(err as Error).message];
    }
    this.documents.push({ query, variables, errors });
    if (!document || errors.length) return { status: 400, body: { errors: errors.map((message) => ({ message })) } };
    const result = await execute({ schema: LINEAR_SCHEMA, document, variableValues: variables, rootValue: { issues: (args: IssuesArgs) => this.list(args) } });
    return { status: 200, body: result };
  }

  private list(args: IssuesArgs) {
    const since = args.filter?.updatedAt?.gt;
    const order = args.orderBy ?? 'createdAt';
    const all = [...this.issues.values()]
      .filter((i) => args.includeArchived || !i.archivedAt)
      .filter((i) => since === undefined || Date.parse(i.updatedAt) > Date.parse(since))
      .sort((a, b) => Date.parse(b[order]) - Date.parse(a[order]) || (a.id < b.id ? -1 : 1));
    const first = args.first ?? 50;
    const start = args.after ? Number(Buffer.from(args.after, 'base64').toString('utf8')) : 0;
    const nodes = all.slice(start, start + first);
    const hasNextPage = start + first < all.length;
    return { nodes, pageInfo: { hasNextPage, endCursor: nodes.length ? Buffer.from(String(start + nodes.length)).toString('base64') : null } };
  }

  /** A webhook body and its signature as Linear makes them; `at` sets webhookTimestamp (default: now). */
  signed(action: 'create' | 'update' | 'remove', issue: LinearIssue, secret: string, at = this.provider.now()): { body: string; signature: string } {
    const body = JSON.stringify({
      action,
      type: 'Issue',
      data: issue,
      url: issue.url,
      createdAt: new Date(this.provider.now()).toISOString(),
      organizationId: 'org-acme',
      webhookTimestamp: at,
      webhookId: 'webhook-1',
    });
    return { body, signature: createHmac('sha256', secret).update(body).digest('hex') };
  }

  /** A webhook delivery as Linear sends it. */
  deliver(url: string, action: 'create' | 'update' | 'remove', issue: LinearIssue, secret: string, at = this.provider.now()) {
    const { body, signature } = this.signed(action, issue, secret, at);
    return got.post(url, {
      body,
      headers: { 'content-type': 'application/json; charset=utf-8', 'linear-signature': signature },
      throwHttpErrors: false,
      retry: { limit: 0 },
    });
  }
}
