import { createServer, connect } from 'node:net';
import { expect } from 'chai';
import got from 'got';
import { NotFoundError } from '../errors.js';
import { isDatabaseUnavailable } from './errors.js';

/**
 * What counts as the database being away. The same socket error reaches the gateway from the
 * database driver and from its HTTP client: only the driver's (a plain system error) is the
 * database's; a provider or callback refusing a connection is that request's own failure.
 */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('isDatabaseUnavailable', () => {
  it('takes a refused connection of a socket (what the PostgreSQL driver passes on) for the database away', async () => {
    const port = await closedPort();
    const err = await new Promise<Error>((resolve) => connect(port, '127.0.0.1').on('error', resolve));
    expect((err as { code?: string }).code).to.equal('ECONNREFUSED');
    expect(isDatabaseUnavailable(err)).to.equal(true);
  });

  it('does not take an HTTP client error with the same code, an API error or a plain error for it', async () => {
    const port = await closedPort();
    const err = await got(`http://127.0.0.1:${port}/`, { retry: { limit: 0 } }).catch((e: Error) => e);
    expect((err as { code?: string }).code).to.equal('ECONNREFUSED');
    expect(isDatabaseUnavailable(err)).to.equal(false);
    expect(isDatabaseUnavailable(new NotFoundError('no such instance'))).to.equal(false);
    expect(isDatabaseUnavailable(new Error('something else'))).to.equal(false);
    expect(isDatabaseUnavailable('Connection terminated')).to.equal(false);
  });

  it("reads the driver's messages for a lost connection, also behind knex's SQL prefix, and SQLite's busy code", () => {
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).to.equal(true);
    expect(isDatabaseUnavailable(new Error('select 1 - Connection terminated unexpectedly'))).to.equal(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('SQLITE_BUSY: database is locked'), { code: 'SQLITE_BUSY' }))).to.equal(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('SQLITE_CONSTRAINT: UNIQUE'), { code: 'SQLITE_CONSTRAINT' }))).to.equal(false);
  });

  it('judges a PostgreSQL server error by its SQLSTATE', () => {
    const serverError = (code: string) => Object.assign(new Error(code), { code, severity: 'FATAL' });
    for (const code of ['57P01', '57P03', '08006', '53300', '40001', '40P01', '55P03']) expect(isDatabaseUnavailable(serverError(code)), code).to.equal(true);
    for (const code of ['23505', '42P01', '22P02', '57014']) expect(isDatabaseUnavailable(serverError(code)), code).to.equal(false);
  });
});
