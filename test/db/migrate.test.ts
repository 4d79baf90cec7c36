import { expect } from 'chai';
import { dropSchema, newSchemaName, startGateway, usePostgres, type TestGateway } from '../helpers/gateway.js';

/**
 * Several nodes starting at once on a database nobody has migrated yet: each creates the schema
 * if missing and runs the migrations, taking turns, and every one of them starts.
 */
describe('start-up on a fresh PostgreSQL schema', function () {
  if (!usePostgres) return;
  this.timeout(60_000);

  it('three gateways started at once on a fresh schema all start, five times over', async () => {
    for (let round = 0; round < 5; round++) {
      const schema = newSchemaName();
      const started = await Promise.allSettled([0, 1, 2].map(() => startGateway({ schema })));
      const gateways = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      await Promise.all(gateways.map((g: TestGateway) => g.close()));
      await dropSchema(schema);
      const failures = started.flatMap((s) => (s.status === 'rejected' ? [String((s.reason as Error).message)] : []));
      expect(failures, `round ${round}`).to.deep.equal([]);
    }
  });
});
