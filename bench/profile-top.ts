import { readFileSync } from 'node:fs';

/**
 * Prints the top self-time frames of a V8 CPU profile (`node --cpu-prof`):
 * `node --import tsx bench/profile-top.ts <file.cpuprofile> [n]`. Frames are grouped by function
 * and location; percentages are of all samples, idle included, so "(idle)" shows the spare time.
 * Then the same samples by the nearest pollgate source file on their stack (src/…): which part of
 * the flow the time is spent for, libraries and runtime included.
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, top = '8'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const ownFile = (id: number | undefined): string => {
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const m = /\/((src|bench)\/.*)$/.exec(byId.get(at)!.callFrame.url);
    if (m) return m[1];
  }
  // No pollgate frame (an async callback): the nearest library on the stack, else the runtime's module.
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(byId.get(at)!.callFrame.url);
    if (m) return m[1];
  }
  const f = byId.get(id!)!.callFrame;
  return f.url ? f.url.replace(/^node:internal\//, 'node:').replace(/\/.*$/, '') : f.functionName;
};
const byFile = new Map<string, number>();
const self = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const f = byId.get(id)!.callFrame;
  const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/').replace(/^node:/, 'node:')}:${f.lineNumber + 1}` : '';
  const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
  self.set(key, (self.get(key) ?? 0) + dt);
  const file = ownFile(id);
  byFile.set(file, (byFile.get(file) ?? 0) + dt);
});
console.log(`total ${(total / 1e6).toFixed(1)} s sampled`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${key}`);
}
console.log('by the nearest pollgate file on the stack, else library, else runtime module:');
for (const [file, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${file}`);
}
