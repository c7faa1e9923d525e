// Registering a child: the guardian is shown the notice and signs it; the new child is
// found by pinyin initials and by characters.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { enroll, waitForRoster, drawSignature, shot } from './steps.mjs';

let server, device, browser;
after(async () => {
  await browser?.close();
  await device?.stop();
  await server?.stop();
  cleanup(server?.data, device?.data);
});

test('register a child with the signed notice, then find her by pinyin initials', { timeout: 180_000 }, async () => {
  server = await syncServer();
  device = await bridge();
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await enroll(page, server);
  await waitForRoster(page);

  await page.locator('[data-testid=add-child]').tap();
  await page.waitForSelector('[data-testid=child-name-input]');
  await page.fill('[data-testid=child-name-input]', '李小花');
  await page.locator('[data-testid=child-sex] [data-code=female]').tap();
  await page.fill('[data-testid=child-birth]', '2016-03-01');
  await page.locator('.cats [data-code=left_behind]').tap();
  await page.locator('[data-testid=child-risk] [data-code=blue]').tap();
  await shot(page, 'register');
  await page.locator('[data-testid=register-next]').tap();
  await page.waitForSelector('[data-testid=notice-text]');
  assert.match(await page.locator('[data-testid=notice-text]').textContent(), /[\u4e00-\u9fff]{10}/);
  await page.fill('[data-testid=notice-signer]', '张秀英');
  await page.locator('[data-testid=notice-role] [data-code=entrusted_caregiver]').tap();
  await shot(page, 'notice');
  await page.locator('[data-testid=notice-sign]').tap();
  await drawSignature(page);
  await page.locator('[data-testid=signature-confirm]').tap();
  await page.waitForSelector('[data-testid=child-file]');
  assert.equal((await page.locator('[data-testid=child-name]').textContent()).trim(), '李小花');
  assert.equal(await page.locator('[data-testid=sign-consent]').count(), 0, 'the notice is acknowledged');

  await page.goto(device.url + '#/roster');
  await page.waitForSelector('[data-testid=roster-count]');
  const all = Number((await page.locator('[data-testid=roster-count]').textContent()).match(/\d+/)[0]);
  await page.fill('[data-testid=roster-search]', 'lxh');
  // The whole roster listed her too: wait for the search's own answer (fewer rows).
  await page.waitForFunction((all) => Number(document.querySelector('[data-testid=roster-count]').textContent.match(/\d+/)[0]) < all
    && [...document.querySelectorAll('[data-testid=child-row] .name')].some((n) => n.textContent.trim() === '李小花'), all);
  const found = Number((await page.locator('[data-testid=roster-count]').textContent()).match(/\d+/)[0]);
  assert.ok(found >= 1 && found < all, `lxh narrows ${all} children to ${found}`);
  await shot(page, 'roster-search');
  // And by characters, from the whole list again.
  await page.fill('[data-testid=roster-search]', '');
  await page.waitForFunction((all) => Number(document.querySelector('[data-testid=roster-count]').textContent.match(/\d+/)[0]) === all, all);
  await page.fill('[data-testid=roster-search]', '小花');
  await page.waitForFunction((all) => Number(document.querySelector('[data-testid=roster-count]').textContent.match(/\d+/)[0]) < all
    && [...document.querySelectorAll('[data-testid=child-row] .name')].some((n) => n.textContent.trim() === '李小花'), all);
  await page.fill('[data-testid=roster-search]', '');
  await page.waitForSelector('[data-testid=child-row]');
  await shot(page, 'roster');
});
