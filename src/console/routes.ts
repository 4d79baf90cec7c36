import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Router from '@koa/router';
import type { RouteModule } from '../api/app.js';
import { projectRoot } from '../config/paths.js';

/**
 * The web console: a handful of static files from console/ (plain ES modules, no build step),
 * read once at start and served at fixed paths — the page at /console, its assets under
 * /console/. The files hold no data: every figure comes from the API with the token the user types,
 * so these paths are open (see OPEN_PATHS) while the API stays behind the token.
 */
export const CONSOLE_ASSETS = ['app.js', 'api.js', 'dom.js', 'views.js', 'chart.js', 'connectors.js', 'configuration.js', 'style.css'] as const;

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

// Only this origin's scripts and styles, and API calls back to it.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function consoleRoutes({ dir = join(projectRoot, 'console') }: { dir?: string } = {}): RouteModule {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of ['index.html', ...CONSOLE_ASSETS]) {
    files.set(name, { body: readFileSync(join(dir, name)), type: TYPES[name.slice(name.lastIndexOf('.'))] });
  }
  const serve = (name: string) => (ctx: { set(h: Record<string, string>): void; type: string; body: unknown }) => {
    const file = files.get(name)!;
    ctx.set({ 'cache-control': 'no-cache', 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' });
    ctx.type = file.type;
    ctx.body = file.body;
  };
  return (router: Router) => {
    router.get('/console', serve('index.html'));
    for (const name of CONSOLE_ASSETS) router.get(`/console/${name}`, serve(name));
  };
}
