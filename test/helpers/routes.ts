import Router from '@koa/router';
import { API_PREFIX } from '../../src/api/app.js';
import type { TestGateway } from './gateway.js';

/**
 * Every route the gateway serves, as {method, path, open}, its path parameters filled by `fill`
 * (parameter name → value). Read from the features' route modules, so a new route is walked too.
 */
export function registeredRoutes(t: TestGateway, fill: (name: string) => string): Array<{ method: string; path: string; open: boolean }> {
  const out: Array<{ method: string; path: string; open: boolean }> = [];
  for (const [kind, prefix] of [
    ['apiRoutes', API_PREFIX],
    ['openRoutes', ''],
  ] as const) {
    const router = new Router();
    for (const f of t.gateway.features) for (const add of f[kind] ?? []) add(router);
    for (const layer of router.stack) {
      const path = prefix + String(layer.path).replace(/:(\w+)/g, (_, name: string) => fill(name));
      for (const method of layer.methods.filter((m) => m !== 'HEAD')) out.push({ method, path, open: kind === 'openRoutes' });
    }
  }
  return out;
}
