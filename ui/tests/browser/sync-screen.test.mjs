// The sync screen on a bad day: the phone's clock is three hours fast (a warning says
// so, in Chinese, with what to do), and the link is slow (a village's 2G), so the
// photos of a visit are seen going up as a progress bar with bytes; the badge is never
// green before everything is on the server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, slowLink, cleanup } from './harness.mjs';
import { enroll, waitForRoster, noisyPhoto, shot, text } from './steps.mjs';

let server, link, device, browser;
after(async () => {
  await browser?.close();
  await device?.stop();
  await link?.close();
  await server?.stop();
  cleanup(server?.data, device?.data);
});

test('a clock three hours fast is warned about; photos going up over a slow link show bytes', { timeout: 240_000 }, async () => {
  server = await syncServer();
  link = await slowLink(server);
  device = await bridge({ env: { TONGHU_CLOCK_SKEW_MS: String(3 * 3600_000) } });
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await enroll(page, link);
  await waitForRoster(page);

  // The server told the phone its clock is off: the sync screen warns, in Chinese.
  await page.locator('[data-testid=nav-sync]').tap();
  const warn = page.locator('[data-testid=clock-warning]');
  await warn.waitFor({ timeout: 60_000 });
  const said = (await warn.textContent()).trim();
  // 3 h less the round trip; the core rounds the hours down today (API-REQUESTS.md #4).
  assert.match(said, /手机时间比服务器快了约 [23] 小时/, said);
  assert.match(said, /自动设置时间/, 'it says what to do');
  await shot(page, 'sync-clock');

  // A visit with two photos, then the link slows to 48 KB/s.
  await page.locator('[data-testid=nav-home]').tap();
  await page.locator('[data-testid=child-row]').first().tap();
  await page.locator('[data-testid=new-visit]').tap();
  await page.locator('[data-testid=all-normal]').tap();
  await page.locator('[data-testid=visit-risk] [data-code=green]').tap();
  for (const seed of [1, 2]) {
    await page.setInputFiles('[data-testid=photo-input]', { name: `p${seed}.png`, mimeType: 'image/png', buffer: await noisyPhoto(page, 640, 480, seed) });
    await page.waitForFunction((n) => document.querySelectorAll('.ph img').length >= n, seed, { timeout: 30_000 });
  }
  link.setRate(48 * 1024);
  await page.locator('[data-testid=save-visit]').tap();
  await page.waitForSelector('[data-testid=visit-saved]');

  // The runner syncs by itself after the save; the sync screen shows the bytes moving.
  await page.goto(device.url + '#/sync');
  const bytesBar = page.locator('[data-testid=sync-progress] [data-testid=bytes-bar]');
  await bytesBar.waitFor({ timeout: 60_000 });
  const max = Number(await bytesBar.getAttribute('aria-valuemax'));
  assert.ok(max > 50_000, `two noisy photos are more than 50 KB to send: ${max}`);
  assert.match(await text(page, '[data-testid=bytes-label]'), /\d+(\.\d+)?\s*(KB|MB|B)\s*\/\s*\d+(\.\d+)?\s*(KB|MB)/);
  await shot(page, 'sync-progress');
  await page.locator('[data-testid=nav-home]').tap();
  await page.waitForSelector('[data-testid=sync-badge]');
  assert.notEqual(await page.locator('[data-testid=sync-badge]').getAttribute('data-tone'), 'ok', 'not green while photos are going up');
  await page.locator('[data-testid=nav-sync]').tap();

  // Everything arrives; the badge turns green only then.
  link.setRate(Infinity);
  await page.waitForFunction(() => document.querySelector('[data-testid=pending-photos]')?.textContent?.trim() === '0'
    && document.querySelector('[data-testid=pending-records]')?.textContent?.trim() === '0', null, { timeout: 120_000 });
  await page.goto(device.url + '#/home');
  await page.waitForSelector('[data-testid=sync-badge][data-tone=ok]', { timeout: 60_000 });
});
