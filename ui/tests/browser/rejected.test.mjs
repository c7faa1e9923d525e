// A change the server rejects is shown with its Chinese reason and what to do, on the
// sync screen and on the record itself; it never disappears from view, and the badge
// is never green while it is there.
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

test('an edit the server refuses is shown with its reason in Chinese', { timeout: 180_000 }, async () => {
  server = await syncServer();
  device = await bridge();
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await enroll(page, server);
  await waitForRoster(page);

  // The county moves this director to another village; the phone does not know yet.
  const [village] = (await device.call('app_state')).villages;
  const other = village.slice(0, -1) + String((Number(village.slice(-1)) % 3) + 1);
  server.moveDirector(server.login, other);

  // The director edits a child of the old village, through the edit screen.
  const row = page.locator('[data-testid=child-row]').first();
  const name = (await row.locator('.name').textContent()).trim();
  await row.tap();
  await page.locator('[data-testid=edit-child]').tap();
  await page.waitForSelector('[data-testid=save-child]');
  await page.locator('textarea').last().fill('外婆生病住院，孩子暂住姑姑家');
  await page.locator('[data-testid=save-child]').tap();
  await page.waitForSelector('[data-testid=child-file]');

  await page.goto(device.url + '#/sync');
  await page.locator('[data-testid=sync-now]').tap();
  const rej = page.locator('[data-testid=rejected]');
  await rej.first().waitFor({ timeout: 60_000 });
  const reason = (await page.locator('[data-testid=rejected-reason]').first().textContent()).trim();
  assert.match(reason, /[\u4e00-\u9fff]/, `a Chinese reason: ${reason}`);
  assert.ok((await rej.first().textContent()).includes(name), 'it names the child');
  await rej.first().scrollIntoViewIfNeeded();
  await shot(page, 'sync-rejected');

  // The badge says so too: never green with a rejected change.
  await page.goto(device.url + '#/home');
  await page.waitForSelector('[data-testid=sync-badge]');
  assert.equal(await page.locator('[data-testid=sync-badge]').getAttribute('data-tone'), 'bad');
  // The record itself says it was rejected, with the reason.
  await page.goto(device.url + '#/sync');
  await page.locator('[data-testid=rejected] a').first().tap();
  await page.waitForSelector('[data-testid=child-file]');
  const state = page.locator('.head [data-testid=rec-sync]');
  assert.equal(await state.getAttribute('data-state'), 'rejected');
  assert.match(await state.textContent(), /[\u4e00-\u9fff]/);
  await shot(page, 'child-rejected');
});
