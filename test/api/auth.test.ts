import { expect } from 'chai';
import http from 'node:http';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { registeredRoutes } from '../helpers/routes.js';

/** Every route, path parameters filled with values that exist or look plausible. */
const routesOf = (t: TestGateway) => registeredRoutes(t, (name) => (name === 'key' ? 'sandbox' : name === 'token' ? 'abc' : '1'));

/** A raw request: got and URL() would normalise the very paths under test. */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(method === 'GET' || method === 'DELETE' ? undefined : '{}');
  });
}

/** Spellings of one path that a lax matcher could take for it. */
function variants(path: string): string[] {
  const upper = path.replace(/[a-z]/g, (c) => c.toUpperCase());
  const mixed = path.replace(/[a-z]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
  const firstLetter = path.search(/[a-z]/);
  const encodedLetter = `${path.slice(0, firstLetter)}%${path.charCodeAt(firstLetter).toString(16)}${path.slice(firstLetter + 1)}`;
  const encodedE = path.replace('e', '%65');
  const encodedSlash = path.replace(/\/([^/]*)$/, '%2F$1');
  const doubled = path.replace('/', '//');
  const doubledInside = path.replace(/\/([^/]*)$/, '//$1');
  return [...new Set([path, `${path}/`, upper, mixed, encodedLetter, encodedE, encodedSlash, doubled, doubledInside, `${upper}/`, `${path}?x=1`])].filter((v) =>
    v.startsWith('/'),
  );
}

describe('API authentication', () => {
  let t: TestGateway;
  before(async () => {
    t = await startGateway();
  });
  after(async () => t.close());

  it('knows the routes it walks (a registry change cannot empty this test)', () => {
    const routes = routesOf(t);
    expect(routes.length).to.be.greaterThan(30);
    expect(routes.map((r) => `${r.method} ${r.path}`)).to.include.members([
      'GET /elements/api-v2/instances',
      'POST /elements/api-v2/instances/1/signing-secret/rotate',
      'GET /health',
    ]);
  });

  it('answers 401 or 404 — never 2xx/3xx — without a token, for every route in every case and encoding', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const route of routesOf(t)) {
      for (const path of variants(route.path)) {
        // The exact open paths are open by design; every variant of them must not be.
        if (route.open && (path === route.path || path === `${route.path}?x=1`)) continue;
        const status = await rawRequest(t.url, route.method, path);
        checked++;
        if (status !== 401 && status !== 404) failures.push(`${route.method} ${path} → ${status}`);
      }
    }
    expect(checked).to.be.greaterThan(300);
    expect(failures).to.deep.equal([]);
  });

  it('refuses a wrong token and a malformed Authorization header', async () => {
    for (const authorization of ['Bearer nope', 'Basic dGVzdA==', 'Bearer', '']) {
      expect(await rawRequest(t.url, 'GET', '/ELEMENTS/API-V2/instances', { authorization }), authorization).to.equal(401);
      expect(await rawRequest(t.url, 'GET', '/elements/api-v2/instances', { authorization }), authorization).to.equal(401);
    }
  });

  it('still serves the exact API paths with the token and the open paths without one', async () => {
    expect(await rawRequest(t.url, 'GET', '/elements/api-v2/instances', { authorization: 'Bearer test-token-0123456789abcdef' })).to.equal(200);
    expect(await rawRequest(t.url, 'GET', '/health')).to.equal(200);
    expect(await rawRequest(t.url, 'GET', '/health/ready')).to.equal(200);
    expect(await rawRequest(t.url, 'POST', '/hooks/unknown-token')).to.equal(404);
  });
});
