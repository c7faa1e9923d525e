// Enroll and set a PIN; record a visit with a photo while the server is down and see
// it pending (never a false green); start the server and see it synced by itself.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { enroll, waitForRoster, photoBytes, shot, text } from './steps.mjs';

let server, device, browser;
after(async () => {
  await browser?.close();
  await device?.stop();
  await server?.stop();
  cleanup(server?.data, device?.data);
});

test('a visit recorded offline with a photo stays pending, then syncs by itself', { timeout: 240_000 }, async () => {
  server = await syncServer();
  device = await bridge();
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await shot(page, 'enroll');
  await enroll(page, server);
  await waitForRoster(page);
  await page.waitForSelector('[data-testid=sync-badge][data-tone=ok]', { timeout: 60_000 });
  await shot(page, 'home');

  await server.stop();

  const first = page.locator('[data-testid=child-row]').first();
  const name = (await first.locator('.name').textContent()).trim();
  await first.tap();
  await page.waitForSelector('[data-testid=child-file]');
  await shot(page, 'child-file');
  await page.locator('[data-testid=new-visit]').tap();
  await page.waitForSelector('[data-testid=all-normal]');
  await shot(page, 'visit');
  await page.locator('[data-testid=all-normal]').tap();
  await page.locator('[data-area=mood] [data-status=watch]').tap();
  await page.fill('[data-testid=note-mood]', '话不多，想妈妈');
  await page.locator('[data-testid=visit-risk] [data-code=blue]').tap();
  await page.setInputFiles('[data-testid=photo-input]', { name: 'home.png', mimeType: 'image/png', buffer: await photoBytes(page) });
  await page.waitForSelector('.ph img', { timeout: 30_000 });
  await page.locator('[data-testid=save-visit]').tap();
  await page.waitForSelector('[data-testid=visit-saved]');
  await shot(page, 'visit-saved');

  // The child file shows the visit saved on the phone only.
  await page.locator('[data-testid=back-to-file]').tap();
  await page.waitForSelector('[data-testid=visit]');
  assert.equal(await page.locator('[data-testid=visit] [data-testid=rec-sync]').first().getAttribute('data-state'), 'on_phone');

  // The sync screen shows it pending; the badge is not green.
  await page.goto(device.url + '#/sync');
  await page.waitForSelector('[data-testid=pending-records]');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=pending-records]')?.textContent) > 0);
  assert.ok(Number(await text(page, '[data-testid=pending-photos]')) >= 1, 'the photo waits too');
  await shot(page, 'sync-pending');
  await page.goto(device.url + '#/home');
  const tone = await page.locator('[data-testid=sync-badge]').getAttribute('data-tone');
  assert.notEqual(tone, 'ok', 'a pending visit is never shown as synced');

  // The server comes back; nobody taps "sync now".
  await server.start();
  await page.waitForSelector('[data-testid=sync-badge][data-tone=ok]', { timeout: 120_000 });
  await page.goto(device.url + '#/sync');
  await page.waitForFunction(() => document.querySelector('[data-testid=pending-records]')?.textContent?.trim() === '0'
    && document.querySelector('[data-testid=pending-photos]')?.textContent?.trim() === '0', null, { timeout: 60_000 });
  await shot(page, 'sync');
  await page.goto(device.url + '#/roster');
  await page.fill('[data-testid=roster-search]', name);
  await page.locator('[data-testid=child-row]').first().tap();
  await page.waitForSelector('[data-testid=visit]');
  assert.equal(await page.locator('[data-testid=visit] [data-testid=rec-sync]').first().getAttribute('data-state'), 'sent');
  await page.waitForSelector('[data-testid=visit] img');
  await shot(page, 'child-file-full', { full: true });
});
