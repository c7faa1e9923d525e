// The other closings of a check task, through the real core (bridge) and a real
// sync-server: a mother on the county's severe-disability list points at her child on
// the roster — the task says who was matched, how she is related and her grade, and is
// closed on that child's file; a listed minor who turns out to be on the roster under
// another record is linked by searching the roster. Screenshots: app-task-guardian,
// app-task-link.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { enroll, waitForRoster, shot, text } from './steps.mjs';

let server, device, browser;
after(async () => {
  await browser?.close();
  await device?.stop();
  await server?.stop();
  cleanup(server?.data, device?.data);
});

function idNumber(birth, seq) {
  const first17 = `370602${birth}${String(seq).padStart(3, '0')}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((s, d, i) => s + Number(d) * w[i], 0);
  return first17 + '10X98765432'[sum % 11];
}

async function syncNow(page, device) {
  await page.evaluate(() => (location.hash = '#/sync'));
  await page.locator('[data-testid=sync-now]').tap();
  await page.waitForFunction(() => !document.querySelector('[data-testid=sync-now]')?.disabled, null, { timeout: 60_000 });
  assert.equal((await device.call('sync_state')).last_error ?? null, null);
}

test('a guardian on the list is handled on the child\'s file; a listed minor on file is linked by search', { timeout: 240_000 }, async () => {
  server = await syncServer();
  device = await bridge();
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await enroll(page, server);
  await waitForRoster(page);

  // A child of the roster and her mother, on file with her ID number.
  const [child] = await device.call('roster', {});
  const mother = idNumber('19880101', 222);
  await device.call('add_guardian', { child_id: child.child_id, role: 'mother', name: '周秀兰', id_number: mother });
  await syncNow(page, device);

  const listed = idNumber('20150606', 314);
  const out = server.importList('disability_care', '2026-05',
    `姓名,身份证号,所在村,残疾等级\r\n周秀兰,${mother},演示村1,一级\r\n刘小雨,${listed},演示村1,\r\n`);
  assert.match(out, /2 new tasks/, out);
  await syncNow(page, device);

  // The mother's listing: who, how related, her grade — on the child's task.
  await page.goto(device.url + '#/home');
  const guardianRow = page.locator('[data-testid=home-task]').filter({ hasText: '周秀兰' });
  await guardianRow.waitFor({ timeout: 60_000 });
  assert.match(await guardianRow.textContent(), new RegExp(`${child.name}的母亲周秀兰在2026年5月`));
  await guardianRow.tap();
  await page.waitForSelector('[data-testid=task-adult]');
  const adult = await text(page, '[data-testid=task-adult]');
  assert.match(adult, /母亲 周秀兰/);
  assert.match(adult, /残疾1级/);
  assert.ok(!adult.includes(mother), 'the mother\'s ID number is masked');
  assert.equal(await page.locator('[data-testid=close-registered]').count(), 0, 'a child on file is not registered again');
  await shot(page, 'task-guardian', { full: true });
  // Handled on the child's file: linked to that child (chosen already).
  await page.locator('[data-testid=close-linked]').tap();
  assert.match(await text(page, '[data-testid=closing-form]'), new RegExp(`关联到${child.name}`));
  await page.locator('[data-testid=save-closing]').tap();
  await page.waitForSelector('[data-testid=task-closed]');
  assert.match(await text(page, '[data-testid=task-closed]'), /已关联已有儿童档案/);

  // The listed minor is on the roster under another record: found by search, linked.
  await page.goto(device.url + '#/home');
  await page.locator('[data-testid=home-task]').filter({ hasText: '刘小雨' }).tap();
  await page.locator('[data-testid=close-linked]').tap();
  assert.equal(await page.locator('[data-testid=save-closing]').isDisabled(), true, 'nothing chosen yet');
  await page.fill('[data-testid=link-search]', child.name.slice(0, 1));
  const hit = page.locator('[data-testid=link-hit]').filter({ hasText: child.name }).first();
  await hit.waitFor();
  await hit.tap();
  assert.equal(await hit.getAttribute('aria-pressed'), 'true');
  await page.locator('[data-testid=save-closing]').scrollIntoViewIfNeeded();
  await shot(page, 'task-link');
  await page.locator('[data-testid=save-closing]').tap();
  await page.waitForSelector('[data-testid=task-closed]');
  assert.match(await text(page, '[data-testid=task-closed]'), new RegExp(`儿童档案：${child.name}`));

  // Both show on the child's file, which still awaits nothing new from the county.
  await page.goto(device.url + `#/child/${child.child_id}`);
  await page.waitForSelector('[data-testid=child-task]');
  assert.equal(await page.locator('[data-testid=child-task]').count(), 2);
  await syncNow(page, device);
  const tasks = await device.call('tasks', { include_closed: true });
  assert.ok(tasks.every((t) => !t.open && t.sync.state === 'sent'), JSON.stringify(tasks.map((t) => t.sync)));
});
