import { beginTest, leakedByCurrentTest, openCount } from './helpers/leaks.js';

/**
 * Root hooks (pg-boss style): a test that leaves its gateway running fails here, so leaks are found
 * where they happen instead of as a hung run. Resources opened in a `before` hook must be closed by
 * the matching `after`; the final check catches those.
 */
export const mochaHooks = {
  beforeEach() {
    beginTest();
  },
  afterEach(this: Mocha.Context) {
    const leaked = leakedByCurrentTest();
    if (leaked > 0 && this.currentTest?.state === 'passed') {
      throw new Error(`${leaked} test resource(s) opened by this test are still open: close them in afterEach or the test`);
    }
  },
  afterAll() {
    const leaked = openCount();
    if (leaked > 0) throw new Error(`${leaked} test resource(s) were never closed`);
  },
};
