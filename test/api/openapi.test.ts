import { expect } from 'chai';
import got from 'got';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { registeredRoutes } from '../helpers/routes.js';

type OpenApiDocument = { openapi: string; paths: Record<string, Record<string, { summary?: string; security?: unknown[] }>> };

describe('/openapi.json against the routers', () => {
  let t: TestGateway;
  let spec: OpenApiDocument;
  before(async () => {
    t = await startGateway();
    spec = await got(`${t.url}/openapi.json`).json<OpenApiDocument>();
  });
  after(() => t.close());

  it('describes every route registered on the routers, with a summary', () => {
    const routes = registeredRoutes(t, (name) => `{${name}}`);
    expect(routes.length).to.be.greaterThan(40);
    const missing = routes.filter((r) => !spec.paths[r.path]?.[r.method.toLowerCase()]?.summary).map((r) => `${r.method} ${r.path}`);
    expect(missing, 'routes missing from /openapi.json').to.deep.equal([]);
  });

  it('describes no route the routers do not serve', () => {
    const served = new Set(registeredRoutes(t, (name) => `{${name}}`).map((r) => `${r.method.toLowerCase()} ${r.path}`));
    const described = Object.entries(spec.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
    expect(described.filter((d) => !served.has(d))).to.deep.equal([]);
  });

  it('marks open exactly the routes served without the token', async () => {
    for (const r of registeredRoutes(t, (name) => `{${name}}`)) {
      const operation = spec.paths[r.path]?.[r.method.toLowerCase()];
      if (!operation) continue;
      // /metrics is at the root but needs the token unless metrics.public is set.
      const open = r.open && r.path !== '/metrics';
      expect(operation.security, `${r.method} ${r.path}`).to.deep.equal(open ? [] : undefined);
    }
  });
});
