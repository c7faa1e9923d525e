// Settings: the language switches every screen to English and back; "lock now" locks;
// a wrong PIN shows the tries left before a wipe and what a wipe would lose (the core's
// counts); the right PIN unlocks.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { enroll, waitForRoster, tapKeys, unlock, shot, PIN } from './steps.mjs';

let server, device, browser;
after(async () => {
  await browser?.close();
  await device?.stop();
  await server?.stop();
  cleanup(server?.data, device?.data);
});

test('language, lock now, a wrong PIN and the wipe warning, unlock', { timeout: 180_000 }, async () => {
  server = await syncServer();
  device = await bridge();
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await enroll(page, server);
  await waitForRoster(page);

  await page.locator('[data-testid=nav-settings]').tap();
  await page.waitForSelector('[data-testid=language]');
  await page.waitForSelector('[data-testid=settings] dl');
  await shot(page, 'settings', { full: true });
  await page.locator('[data-testid=language] [data-code=en]').tap();
  await page.waitForFunction(() => document.querySelector('.topbar h1')?.textContent?.trim() === 'Settings');
  await page.locator('[data-testid=nav-home]').tap();
  await page.waitForFunction(() => document.querySelector('.topbar h1')?.textContent?.trim() === "Today's work");
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  // The core keeps the choice: a reload is still in English.
  await page.reload();
  await page.waitForFunction(() => document.querySelector('.topbar h1')?.textContent?.trim() === "Today's work");
  await page.locator('[data-testid=nav-settings]').tap();
  await page.locator('[data-testid=language] [data-code=zh]').tap();
  await page.waitForFunction(() => document.querySelector('.topbar h1')?.textContent?.trim() === '设置');

  // Something not yet on the server, so a wipe would lose it.
  await server.stop();
  await page.goto(device.url + '#/home');
  await page.locator('[data-testid=child-row]').first().tap();
  await page.locator('[data-testid=new-visit]').tap();
  await page.locator('[data-testid=all-normal]').tap();
  await page.locator('[data-testid=visit-risk] [data-code=green]').tap();
  await page.locator('[data-testid=save-visit]').tap();
  await page.waitForSelector('[data-testid=visit-saved]');

  await page.goto(device.url + '#/settings');
  await page.locator('[data-testid=lock-now]').tap();
  await page.waitForSelector('[data-key=ok]');
  await tapKeys(page, '000000');
  await page.locator('[data-key=ok]').tap();
  const warn = page.locator('[data-testid=unlock-attempts]');
  await warn.waitFor();
  const said = await warn.textContent();
  assert.match(said, /清除时会丢失还没同步的 [1-9]\d* 条记录/, said);
  const err = (await page.locator('[role=alert]').first().textContent()).trim();
  assert.match(err, /PIN|密码/, err);
  await shot(page, 'unlock');
  // The core makes the phone wait after a wrong PIN; the screen counts down, then the
  // right PIN opens it.
  await page.waitForFunction(() => !document.querySelector('[data-testid=unlock-wait]'), null, { timeout: 60_000 });
  await unlock(page, PIN);
  await page.waitForSelector('[data-testid=home], [data-testid=settings]');
});
