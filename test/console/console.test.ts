import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { API_TOKEN, startGateway, type TestGateway } from '../helpers/gateway.js';
import { EmulatedProvider } from '../../sandbox/provider-server.js';
import { Receiver } from '../providers/receiver.js';
import { createInstance, providerConnector, registerConnector } from '../poller/helpers.js';
import { dispatcher } from '../delivery/helpers.js';
import { SandboxProvider } from '../../sandbox/sandbox.js';
import { BROKEN_BODY, createWebhookInstance, storeReceipt } from '../webhooks/helpers.js';

/**
 * The web console in a real headless Chromium (the system's /usr/bin/chromium): sign in with the
 * token, see an instance appear, poll now and see the new event row, pause and resume, edit the
 * interval, retry and replay notifications, retry a failed webhook receipt; a wrong token shows an
 * error rather than a blank page.
 * With POLLGATE_SCREENSHOTS=<dir> it saves the main views there (docs/cli-and-console.md shows those of docs/console).
 */
const CHROMIUM = process.env.POLLGATE_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('web console (headless Chromium)', function () {
  this.timeout(120_000);
  let t: TestGateway;
  let provider: EmulatedProvider;
  let receiver: Receiver;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  const shots = process.env.POLLGATE_SCREENSHOTS ? resolve(process.env.POLLGATE_SCREENSHOTS) : undefined;
  const shot = async (name: string) => {
    if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  };

  before(async () => {
    t = await startGateway();
    provider = await EmulatedProvider.start();
    provider.now = () => t.clock.now();
    receiver = await Receiver.start();
    profile = mkdtempSync(join(tmpdir(), 'pollgate-chromium-'));
    if (shots) mkdirSync(shots, { recursive: true });
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 800 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
  });

  after(async () => {
    await browser?.close();
    await t.close();
    await provider.close();
    await receiver.close();
    rmSync(profile, { recursive: true, force: true });
  });

  const row = (table: string, id: string | number) => page.locator(`table[data-table="${table}"] tr[data-id="${id}"]`);
  const rows = (table: string) => page.locator(`table[data-table="${table}"] tbody tr[data-id]`);
  /** Waits until the element shows text matching `pattern` (the console updates asynchronously). */
  const shows = (selector: string, pattern: RegExp) => page.locator(selector, { hasText: pattern }).waitFor({ timeout: 10_000 });

  it('refuses a wrong token with a visible error, then signs in and follows an instance through its buttons', async () => {
    await page.goto(`${t.url}/console`);
    await page.fill('input[name=token]', 'not-the-token');
    await page.click('form[data-form=login] button');
    await shows('#error', /token was refused \(401\)/);
    expect(await page.locator('form[data-form=login]').isVisible()).to.equal(true);
    await shot('login-error');

    await page.fill('input[name=token]', API_TOKEN);
    await page.click('form[data-form=login] button');
    await page.locator('table[data-table=instances]').waitFor();
    expect(await page.locator('#error').isHidden()).to.equal(true);
    expect(await page.evaluate(() => sessionStorage.getItem('pollgate.token'))).to.equal(API_TOKEN);

    // An instance created meanwhile appears on the next refresh.
    await registerConnector(t, providerConnector('consolecrm'));
    provider.collection('contacts');
    const instance = await createInstance(t, 'consolecrm', provider.url, { 'event.notification.callback.url': `${receiver.url}/cb` });
    await row('instances', instance.id).waitFor({ timeout: 10_000 });
    expect(await row('instances', instance.id).textContent()).to.match(/consolecrm test.*consolecrm.*polling.*enabled/);
    await page.click('a[href="#/connectors"]');
    await row('connectors', 'consolecrm').waitFor();
    await shot('connectors');
    await page.click('a[href="#/instances"]');
    await row('instances', instance.id).waitFor();

    // Poll now: a new record becomes a new event row.
    await page.click(`table[data-table=instances] tr[data-id="${instance.id}"] a >> nth=1`);
    await page.locator('table[data-table=status]').waitFor();
    expect(await rows('events').count()).to.equal(0);
    t.clock.advance(1000);
    provider.collection('contacts').upsert({ name: 'Ada' });
    t.clock.advance(1000);
    await page.click('button[data-action=poll]');
    await shows('#notice', /contacts fetched 1, created 1/);
    await rows('events').first().waitFor();
    expect(await rows('events').first().textContent()).to.match(/^1CREATEDcontacts\/1/);

    // Check: the provider is asked, read-only; one row per line.
    await page.click('button[data-action=check]');
    await shows('#notice', /Checked: ok/);
    expect(await row('check', 'credentials').textContent()).to.match(/^credentialsokaccepted: HTTP 200 to GET \/contacts/);
    expect(await row('check', 'object:contacts').textContent()).to.match(/^object:contactsokfirst page: 1 record/);
    expect(await rows('events').count()).to.equal(1);

    // Pause and resume.
    await page.click('button[data-action=toggle]');
    await page.locator('button[data-action=toggle]', { hasText: 'Resume' }).waitFor();
    expect((await t.api.get(`instances/${instance.id}`)).body).to.include({ eventsEnabled: false });
    await page.click('button[data-action=toggle]');
    await page.locator('button[data-action=toggle]', { hasText: 'Pause' }).waitFor();
    expect((await t.api.get(`instances/${instance.id}`)).body).to.include({ eventsEnabled: true });

    // Interval edit: 5 → 7 minutes, shown in the status table and stored.
    await page.fill('form[data-form=interval] input', '7');
    await page.click('form[data-form=interval] button');
    await page.locator('table[data-table=status] tr[data-id=contacts] td >> nth=1', { hasText: '7m' }).waitFor({ timeout: 10_000 });
    const status = (await t.api.get(`instances/${instance.id}/status`)).body as unknown as { objects: { contacts: { intervalSeconds: number } } };
    expect(status.objects.contacts.intervalSeconds).to.equal(420);

    // Deliver, then retry one notification and replay everything since a time.
    await dispatcher(t).drain();
    await dispatcher(t).idle();
    expect(receiver.received).to.have.length(1);
    const ntf = rows('notifications').first();
    await ntf.locator('text=delivered').waitFor({ timeout: 10_000 });
    await ntf.locator('button[data-action=attempts]').click();
    await rows('attempts')
      .first()
      .waitFor()
      .catch(() => undefined);
    expect(await page.locator('table[data-table=attempts] tbody tr').first().textContent()).to.match(/200/);
    await shot('instance');
    await ntf.locator('button[data-action=retry]').click();
    await shows('#notice', /queued for delivery again/);
    await ntf.locator('text=pending').waitFor({ timeout: 10_000 });
    await dispatcher(t).drain();
    await dispatcher(t).idle();
    expect(receiver.received).to.have.length(2);
    await ntf.locator('text=delivered').waitFor({ timeout: 10_000 });
    await page.fill('form[data-form=replay] input', '1970-01-01T00:00:00Z');
    await page.click('form[data-form=replay] button');
    await shows('#notice', /^1 notification\(s\) queued for delivery again/);
    await dispatcher(t).drain();
    await dispatcher(t).idle();
    expect(receiver.received).to.have.length(3);

    // An API error shows as a message on the page (the page stays).
    await page.fill('form[data-form=interval] input', 'soon');
    await page.click('form[data-form=interval] button');
    await shows('#error', /400 .*refresh_interval/);
    expect(await page.locator('table[data-table=events]').isVisible()).to.equal(true);

    await page.click('a[href="#/instances"] >> nth=1');
    await row('instances', instance.id).locator('text=/^2026-/').first().waitFor();
    await shot('instances');
  });

  it("shows a webhook-mode instance's failed receipts and retries one", async () => {
    const sandbox = await SandboxProvider.start();
    try {
      const { id } = await createWebhookInstance(t, sandbox);
      const receiptId = await storeReceipt(t, id, BROKEN_BODY);
      for (let i = 0; i < t.config.webhooks.maxAttempts; i++) {
        await t.gateway.webhooks.processor.tick();
        t.clock.advance(3_600_000);
      }
      // Signed in on its own (the token kept for the tab), whether or not the test before ran.
      await page.goto(`${t.url}/console`);
      await page.evaluate((token) => sessionStorage.setItem('pollgate.token', token), API_TOKEN);
      await page.goto(`${t.url}/console#/instances/${id}`);
      await row('failed-receipts', receiptId).waitFor({ timeout: 10_000 });
      expect(await row('failed-receipts', receiptId).textContent()).to.match(new RegExp(`^${receiptId}.*${t.config.webhooks.maxAttempts}.*JSON.*Retry$`));
      await row('failed-receipts', receiptId).locator('button[data-action=retry-receipt]').click();
      await shows('#notice', new RegExp(`Webhook receipt ${receiptId} queued for mapping again`));
      await page.locator('table[data-table=failed-receipts] td', { hasText: 'no failed receipts' }).waitFor({ timeout: 10_000 });
      const receipt = (await t.api.get(`instances/${id}/webhooks/receipts/${receiptId}`)).body as unknown as { status: string; attempts: number };
      expect(receipt).to.include({ status: 'pending', attempts: 0 });
    } finally {
      await sandbox.close();
    }
  });
});
