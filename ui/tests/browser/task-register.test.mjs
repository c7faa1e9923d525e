// A check task from the county's list on the phone, through the real core (bridge)
// and a real sync-server on loopback: the county imports May's 低保 list; the phone's
// home lists the task with its age beside the overdue visits; the task says why; the
// director registers the child from the pre-filled form and the task closes in the
// same save; the child's file awaits the county's confirmation; a second task is
// closed as not eligible, the reason asked for first. The sync screen says a newer
// app is offered. Screenshots: docs/screenshots/app-task-*.png.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { enroll, waitForRoster, drawSignature, shot, text } from './steps.mjs';

let server, device, browser;
after(async () => {
  await browser?.close();
  await device?.stop();
  await server?.stop();
  cleanup(server?.data, device?.data);
});

/** A valid 身份证号 (GB 11643 check digit) of someone born on `birth` (YYYYMMDD). */
function idNumber(birth, seq) {
  const first17 = `370602${birth}${String(seq).padStart(3, '0')}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((s, d, i) => s + Number(d) * w[i], 0);
  return first17 + '10X98765432'[sum % 11];
}

async function syncNow(page) {
  await page.evaluate(() => (location.hash = '#/sync'));
  await page.locator('[data-testid=sync-now]').tap();
  await page.waitForFunction(() => !document.querySelector('[data-testid=sync-now]')?.disabled, null, { timeout: 60_000 });
}

test('the county list becomes a task; registering the found child closes it in the same save', { timeout: 240_000 }, async () => {
  server = await syncServer({ env: { TONGHU_LATEST_APP_VERSION: '99.0.0' } });
  device = await bridge();
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await enroll(page, server);
  await waitForRoster(page);

  // The list names the village as people write it (its name, not its code).
  const village = '演示村1';
  const girl = idNumber('20140302', 122); // a girl (odd 17th digit: boy; even: girl)
  const boy = idNumber('20120808', 131);
  const out = server.importList('dibao_rural', '2026-05',
    `农村低保名单（2026年5月）\r\n姓名,身份证号,所在村,与户主关系\r\n李小红,${girl},${village},孙女\r\n王小刚,${boy},${village},儿子\r\n`);
  assert.match(out, /2 new tasks/, out);

  await syncNow(page);
  await page.locator('[data-testid=nav-home]').tap();
  const tasks = page.locator('[data-testid=home-task]');
  await tasks.first().waitFor({ timeout: 60_000 });
  assert.equal(await tasks.count(), 2);
  const row = tasks.filter({ hasText: '李小红' });
  assert.match(await row.textContent(), /2026年5月农村低保名单上的未成年人李小红不在儿童台账上/);
  assert.equal((await row.locator('[data-testid=task-age]').textContent()).trim(), '今天下发');
  await row.scrollIntoViewIfNeeded();
  await shot(page, 'task-home');

  // Why: which list, which month, who — the ID number masked.
  await row.tap();
  await page.waitForSelector('[data-testid=task-person]');
  assert.match(await text(page, '[data-testid=task-why]'), /李小红/);
  const person = await text(page, '[data-testid=task-person]');
  assert.ok(person.includes('3706') && person.includes('*') && !person.includes(girl), person);
  assert.match(person, /孙女/);
  await shot(page, 'task-why', { full: true });

  // Registered as a new child: the form comes filled in from the list.
  await page.locator('[data-testid=close-registered]').tap();
  await page.waitForSelector('[data-testid=register-from-task]');
  assert.equal(await page.inputValue('[data-testid=child-name-input]'), '李小红');
  assert.equal(await page.inputValue('[data-testid=child-birth]'), '2014-03-02');
  assert.equal(await page.getAttribute('[data-testid=child-sex] [data-code=female]', 'aria-checked'), 'true');
  assert.ok((await page.inputValue('[data-testid=child-id]')).includes('*'), 'masked, kept when sent back');
  await shot(page, 'task-register');
  await page.locator('.cats [data-code=difficulty]').tap();
  await page.locator('[data-testid=child-risk] [data-code=yellow]').tap();
  await page.locator('[data-testid=register-next]').tap();
  await page.waitForSelector('[data-testid=notice-text]');
  await page.fill('[data-testid=notice-signer]', '李大山');
  await page.locator('[data-testid=notice-role] [data-code=grandparent]').tap();
  await page.locator('[data-testid=notice-sign]').tap();
  await drawSignature(page);
  await page.locator('[data-testid=signature-confirm]').tap();
  await page.waitForSelector('[data-testid=child-file]');
  assert.equal((await page.locator('[data-testid=child-name]').textContent()).trim(), '李小红');
  assert.equal(await text(page, '[data-testid=county-state] strong'), '待县级确认（增员）');
  const childTask = page.locator('[data-testid=child-task]');
  assert.match(await childTask.textContent(), /已登记为新儿童/);
  await shot(page, 'task-child');
  // The full ID number was kept (from the list), not the masked one.
  const exported = JSON.stringify(await device.call('export'));
  assert.ok(exported.includes(girl), 'the child holds the listed ID number');

  // The task is closed, on the phone and then on the server.
  await childTask.tap();
  await page.waitForSelector('[data-testid=task-closed]');
  assert.match(await text(page, '[data-testid=task-closed]'), /办结：已登记为新儿童/);
  // Saved on the phone, then on the server (the app syncs soon after a save).
  assert.ok(['on_phone', 'sent'].includes(await page.getAttribute('[data-testid=task-closed] [data-testid=rec-sync]', 'data-state')));
  const taskUrl = page.url();
  await syncNow(page);
  await page.goto(taskUrl);
  await page.waitForSelector('[data-testid=task-closed] [data-state=sent]', { timeout: 60_000 });
  await shot(page, 'task-closed');

  // The second task: not eligible, the reason asked for first.
  await page.goto(device.url + '#/home');
  await page.locator('[data-testid=home-task]').filter({ hasText: '王小刚' }).tap();
  await page.locator('[data-testid=close-not_eligible]').tap();
  await page.locator('[data-testid=save-closing]').tap();
  const err = page.locator('[data-testid=closing-form] [role=alert]');
  await err.waitFor();
  assert.match(await err.textContent(), /请写明不符合条件的原因/);
  assert.equal(await page.getAttribute('[data-testid=closing-note]', 'aria-invalid'), 'true');
  await page.fill('[data-testid=closing-note]', '父母均在本地务工，家庭收入已超过低保标准');
  await shot(page, 'task-not-eligible');
  await page.locator('[data-testid=save-closing]').tap();
  await page.waitForSelector('[data-testid=task-closed]');
  assert.match(await text(page, '[data-testid=task-closed]'), /不符合条件/);
  await page.goto(device.url + '#/home');
  await page.waitForSelector('[data-testid=home]');
  assert.equal(await page.locator('[data-testid=home-task]').count(), 0, 'no open task left');

  // The server offers a newer app: the sync screen says so in plain words.
  await page.evaluate(() => (location.hash = '#/sync'));
  const upd = page.locator('[data-testid=update-available]');
  await upd.waitFor();
  assert.match(await upd.textContent(), /有新版本（99\.0\.0）可以更新/);
  await shot(page, 'task-update-available');

  // One language at a time: the task in English has no Chinese label (names and the
  // list's own words are data).
  const taskId = (await device.call('tasks', { include_closed: true })).find((t) => t.finding?.person?.name === '王小刚').task_id;
  await device.call('update_settings', { language: 'en' });
  await page.goto(device.url + `#/task/${taskId}`);
  await page.reload();
  await page.waitForSelector('[data-testid=task-closed]');
  const closed = await text(page, '[data-testid=task-closed]');
  assert.match(closed, /^Closed .*: not eligible/, closed);
  assert.match(await text(page, '[data-testid=task-why]'), /王小刚, a minor on the 农村低保 list of May 2026, is not on the roster\./);
  await shot(page, 'task-closed-en', { full: true });
});
