// A phone killed between enrolling and choosing its PIN (Android kills background
// apps; a call comes in): the token was in memory only, but the core kept the device
// id and the server address, so after the restart the Enroll screen starts with the
// address and the same one-time code enrolls the phone again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { tapKeys, waitForRoster, PIN } from './steps.mjs';

let server, device, browser;
after(async () => {
  await browser?.close();
  await device?.stop();
  await server?.stop();
  cleanup(server?.data, device?.data);
});

test('an enrollment cut short by a killed app is done again with the same code', { timeout: 120_000 }, async () => {
  server = await syncServer();
  device = await bridge();
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await page.waitForSelector('[data-testid=enroll-form]');
  assert.equal(await page.inputValue('input[name=server_url]'), '', 'nothing typed yet');
  await page.fill('input[name=server_url]', server.url);
  await page.fill('input[name=code]', server.code);
  await page.locator('[data-testid=enroll-form] button[type=submit]').tap();
  await page.waitForSelector('[data-testid=pin-prompt]');

  await device.kill();
  await device.start();
  await page.goto(device.url);
  await page.waitForSelector('[data-testid=enroll-form]');
  assert.equal(await page.inputValue('input[name=server_url]'), server.url, 'the address typed is kept');
  assert.equal(await page.inputValue('input[name=code]'), '', 'the code is never kept');
  await page.fill('input[name=code]', server.code);
  await page.locator('[data-testid=enroll-form] button[type=submit]').tap();
  await page.waitForSelector('[data-testid=pin-prompt]');
  await tapKeys(page, PIN);
  await page.locator('[data-key=ok]').tap();
  await page.waitForFunction(() => document.querySelector('[data-testid=pin-dots]')?.getAttribute('data-n') === '0');
  await tapKeys(page, PIN);
  await page.locator('[data-key=ok]').tap();
  await page.waitForSelector('[data-testid=home]');
  await waitForRoster(page);
});
