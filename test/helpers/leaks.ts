/**
 * Tracks resources a test opens (gateways, child processes) so the root hooks can fail a test
 * that leaves one behind. Kept apart from the helpers so the hooks load nothing else.
 */
const open = new Map<object, number>();
let currentTest = 0;

/** Root hooks call this before each test: resources opened from here on belong to that test. */
export function beginTest(): void {
  currentTest++;
}

export function trackOpen(resource: object): void {
  open.set(resource, currentTest);
}

export function trackClosed(resource: object): boolean {
  return open.delete(resource);
}

/** Resources still open that the current test (its beforeEach or body) opened. */
export function leakedByCurrentTest(): number {
  return [...open.values()].filter((t) => t === currentTest).length;
}

export function openCount(): number {
  return open.size;
}
