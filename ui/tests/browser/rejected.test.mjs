// A change the server rejects is shown with its Chinese reason and what to do, on the
// sync screen and on the record itself; it never disappears from view.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { enroll, waitForRoster, shot } from './steps.mjs';

let server, device, browser;
after(async () => {
  await browser?.close();
  await device?.stop();
  await server?.stop();
  cleanup(server?.data, device?.data);
});

test('a rejected change is shown with its reason in Chinese', { timeout: 180_000 }, async () => {
  server = await syncServer();
  device = await bridge();
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await enroll(page, server);
  await waitForRoster(page);

  // The situation: this phone writes a child into a village its account does not
  // cover (as a script or an old app version could). The server refuses it.
  const state = await device.call('app_state');
  const mine = state.villages[0];
  const other = mine.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
  await device.call('add_record', {
    table: 'child',
    fields: { name: '赵外村', sex: 'male', birth_date: '2015-05-05', village_code: other, categories: ['left_behind'], risk_colour: 'green', status: 'active', added_on: new Date().toISOString().slice(0, 10), household_registered: true },
  });
  await page.goto(device.url + '#/sync');
  await page.locator('[data-testid=sync-now]').tap();
  const rej = page.locator('[data-testid=rejected]');
  await rej.first().waitFor({ timeout: 60_000 });
  const reason = (await page.locator('[data-testid=rejected-reason]').first().textContent()).trim();
  assert.match(reason, /[\u4e00-\u9fff]/, `a Chinese reason: ${reason}`);
  await shot(page, 'sync-rejected');
  // The badge says so too: never green with a rejected change.
  await page.goto(device.url + '#/home');
  assert.equal(await page.locator('[data-testid=sync-badge]').getAttribute('data-tone'), 'bad');
});
