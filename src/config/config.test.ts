import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './index.js';

describe('config', () => {
  it('has every default of the contract', () => {
    const c = loadConfig({ env: {} });
    expect(c.server.port).to.equal(8080);
    expect(c.server.publicUrl).to.equal('http://localhost:8080');
    expect(c.server.maxBodyBytes).to.equal(1048576);
    expect(c.poller.minIntervalSeconds).to.equal(60);
    expect(c.poller.overlapSeconds).to.equal(60);
    expect(c.webhooks).to.include({ maxBodyBytes: 5242880, maxItemsPerBody: 1000, maxAttempts: 5, rateLimitPerMinute: 250 });
    expect(c.requests.rateLimitPerMinute).to.equal(50);
    expect(c.delivery.timeoutSeconds).to.equal(15);
    expect(c.delivery.maxEventsPerNotification).to.deep.equal({ polling: 10, webhook: 20 });
    expect(c.delivery.retrySchedule).to.deep.equal([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(c.schedules.minLeadSeconds).to.equal(300);
    expect(c.network).to.deep.equal({ allowLoopback: true, allowPrivate: false });
  });

  it('merges the POLLGATE_CONFIG file, then the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollgate-config-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ server: { port: 9000 }, poller: { overlapSeconds: 5 } }));
    const c = loadConfig({ env: { POLLGATE_CONFIG: file, PORT: '9100', DATABASE_URL: 'postgres://x@h/db', POLLGATE_SECRET_KEY: 'k'.repeat(32) } });
    expect(c.server.port).to.equal(9100);
    expect(c.poller.overlapSeconds).to.equal(5);
    expect(c.poller.minIntervalSeconds).to.equal(60);
    expect(c.database.url).to.equal('postgres://x@h/db');
    expect(c.security.secretKey).to.equal('k'.repeat(32));
  });

  it('stops on a bad value with a message naming the setting', () => {
    expect(() => loadConfig({ env: { PORT: 'eighty' } })).to.throw(/server\.port/);
    expect(() => loadConfig({ env: { POLLGATE_SECRET_KEY: 'short' } })).to.throw(/security\.secretKey/);
    expect(() => loadConfig({ env: { DATABASE_URL: 'mysql://x' } })).to.throw(/database\.url/);
    expect(() => loadConfig({ env: {}, overrides: { poller: { overlapSecnds: 1 } } })).to.throw(/overlapSecnds/);
  });
});
