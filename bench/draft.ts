import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { validateConnector } from '../src/connector-sections.js';
import { parseDescriptionText, readDescription } from '../src/drafts/description.js';
import { draftConnector } from '../src/drafts/draft.js';
import { type Result, timed } from './lib.js';

/**
 * Drafting from GitHub's full published description (about 13 MB, 1,000 paths): the time against a
 * floor that only parses the JSON, the heap the read description holds, and the process's peak
 * resident memory. The target is a bound: a large description must not take the node's memory.
 */
export async function draftScenario(): Promise<Result[]> {
  const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
  const text = readFileSync(file, 'utf8');
  const floor = await timed(async () => JSON.parse(text));
  const baseline = process.memoryUsage().heapUsed;
  let held = 0;
  const run = await timed(async () => {
    const description = await readDescription(parseDescriptionText(text));
    const draft = draftConnector(description, validateConnector);
    held = process.memoryUsage().heapUsed - baseline;
    return draft;
  });
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const objects = run.value.report.objects.filter((o) => o.included).length;
  const mb = (n: number) => Math.round(n / 1024 / 1024);
  return [
    {
      scenario: `draft GitHub's description (${mb(text.length)} MB, ${objects} objects)`,
      database: 'none',
      figure: 'time',
      value: Math.round(run.ms),
      unit: 'ms',
      floor: Math.round(floor.ms),
      ratio: +(floor.ms / run.ms).toFixed(2),
      target: 'reported',
      pass: null,
    },
    {
      scenario: "draft GitHub's description",
      database: 'none',
      figure: 'memory (heap held by the draft; peak RSS)',
      value: mb(held),
      unit: `MB heap, ${mb(peakRss)} MB RSS`,
      floor: null,
      ratio: null,
      target: '≤ 512 MB heap',
      pass: held <= 512 * 1024 * 1024,
    },
  ];
}
