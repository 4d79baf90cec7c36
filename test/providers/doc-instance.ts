import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/config/index.js';

/**
 * The instance JSON of a connector's doc page (docs/connectors/<key>.md): its first ```json block
 * with an `element`. Tests create instances from it as written, adding only what points the
 * instance at the emulator (`base.url`) and, where a test needs it, the event mode.
 */
export function docInstance(key: string): { element: { key: string }; name: string; configuration: Record<string, unknown> } {
  const page = readFileSync(join(projectRoot, 'docs', 'connectors', `${key}.md`), 'utf8');
  for (const [, block] of page.matchAll(/```json\n([\s\S]*?)```/g)) {
    const parsed = JSON.parse(block) as { element?: { key: string } };
    if (parsed.element) return parsed as never;
  }
  throw new Error(`docs/connectors/${key}.md has no instance JSON`);
}
