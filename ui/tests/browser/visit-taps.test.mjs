// A visit is recordable in at most 12 taps from the home screen (counted here), and
// the app killed in the middle of a visit form keeps the draft.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { enroll, unlock, waitForRoster, Taps, shot, saveVisit } from './steps.mjs';

let server, device, browser, page;
before(async () => {
  server = await syncServer();
  device = await bridge();
  browser = await launch();
  page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await enroll(page, server);
  await waitForRoster(page);
});
after(async () => {
  await browser?.close();
  await device?.stop();
  await server?.stop();
  cleanup(server?.data, device?.data);
});

test('a visit in at most 12 taps from home', { timeout: 120_000 }, async () => {
  await page.goto(device.url + '#/home');
  await page.waitForSelector('[data-testid=child-row]');
  const taps = new Taps(page);
  await taps.tap('[data-testid=child-row]');
  await taps.tap('[data-testid=new-visit]');
  await taps.tap('[data-testid=all-normal]');
  await taps.tap('[data-testid=visit-risk] [data-code=green]');
  await taps.tap('[data-testid=save-visit]');
  await page.waitForSelector('[data-testid=visit-saved]');
  assert.ok(taps.count <= 12, `took ${taps.count} taps: ${taps.log.join(' → ')}`);
  console.log(`# visit recorded in ${taps.count} taps from home`);
});

test('the app killed in the middle of a visit form keeps the draft', { timeout: 120_000 }, async () => {
  // Another child than the one just visited, from the roster (home lists only the
  // children due).
  await page.goto(device.url + '#/roster');
  await page.waitForSelector('[data-testid=roster-count]');
  await page.locator('[data-testid=child-row]').nth(1).tap();
  await page.waitForSelector('[data-testid=child-file]');
  const childUrl = page.url();
  await page.locator('[data-testid=new-visit]').tap();
  await page.waitForSelector('[data-testid=all-normal]');
  await page.locator('[data-testid=visit-mode] [data-code=phone]').tap();
  await page.locator('[data-area=health] [data-status=abnormal]').tap();
  await page.fill('[data-testid=note-health]', '发烧三天未就医');
  await page.locator('[data-testid=visit-risk] [data-code=yellow]').tap();
  await page.fill('[data-testid=narrative]', '奶奶说孩子晚上咳嗽');
  // Every field is saved as it changes: wait for the last one to be in the core.
  await page.waitForFunction(() => document.querySelector('[data-testid=draft-state]')?.getAttribute('data-status') === 'saved');
  await page.waitForTimeout(300);
  await page.waitForFunction(() => document.querySelector('[data-testid=draft-state]')?.getAttribute('data-status') === 'saved');

  await device.kill();
  await device.start();
  await page.goto(childUrl.replace(/#.*/, '') + '#/home');
  await unlock(page);
  await page.goto(childUrl);
  await page.waitForSelector('[data-testid=new-visit]');
  await page.locator('[data-testid=new-visit]').tap();
  await page.waitForSelector('[data-testid=draft-found]');
  await shot(page, 'visit-draft');
  await page.locator('[data-testid=draft-continue]').tap();
  assert.equal(await page.locator('[data-testid=visit-mode] [data-code=phone]').getAttribute('aria-checked'), 'true');
  assert.equal(await page.locator('[data-area=health] [data-status=abnormal]').getAttribute('aria-checked'), 'true');
  assert.equal(await page.inputValue('[data-testid=note-health]'), '发烧三天未就医');
  assert.equal(await page.locator('[data-testid=visit-risk] [data-code=yellow]').getAttribute('aria-checked'), 'true');
  assert.equal(await page.inputValue('[data-testid=narrative]'), '奶奶说孩子晚上咳嗽');
  // And it can be finished.
  await page.locator('[data-testid=all-normal]').tap();
  await page.locator('[data-testid=save-visit]').tap();
  await page.waitForSelector('[data-testid=visit-saved]');
  // A saved visit leaves no draft behind.
  await page.goto(childUrl);
  await page.locator('[data-testid=new-visit]').tap();
  await page.waitForSelector('[data-testid=all-normal]');
  assert.equal(await page.locator('[data-testid=draft-found]').count(), 0);
});

test('an emergency visit: the device says what it needs at each field, nothing hidden behind the save bar, a referral kept, the red date filled', { timeout: 120_000 }, async () => {
  await page.goto(device.url + '#/roster');
  await page.waitForSelector('[data-testid=roster-count]');
  await page.locator('[data-testid=child-row]').nth(2).tap();
  await page.locator('[data-testid=new-visit]').tap();
  await page.locator('[data-testid=all-normal]').tap();
  await page.locator('[data-area=safety] [data-status=abnormal]').tap();
  await page.fill('[data-testid=note-safety]', '手臂有多处淤青');
  await page.locator('[data-testid=visit-risk] [data-code=yellow]').tap();
  await page.locator('[data-testid=emergency]').check();
  // The form sets nothing by a rule of its own: the device says, at each field, what
  // an emergency needs (the mandatory report, red).
  const problem = (field, code) => page.locator(`[data-testid=problem][data-field="${field}"][data-code="${code}"]`);
  await problem('actions', 'emergency_needs_report').waitFor();
  await problem('risk_colour', 'emergency_must_be_red').waitFor();
  assert.match(await problem('actions', 'emergency_needs_report').textContent(), /强制报告/);
  assert.equal(await page.locator('.chip[data-code=mandatory_report]').getAttribute('aria-pressed'), 'false');
  await page.locator('.chip[data-code=mandatory_report]').tap();
  await page.locator('[data-testid=visit-risk] [data-code=red]').tap();
  // Each problem goes as soon as its cause is fixed.
  await problem('actions', 'emergency_needs_report').waitFor({ state: 'detached' });
  await problem('risk_colour', 'emergency_must_be_red').waitFor({ state: 'detached' });
  // A red child's next visit is filled by the rule at once (editable).
  await page.waitForFunction(() => document.querySelector('[data-testid=next-due]')?.value);
  const filled = await page.inputValue('[data-testid=next-due]');
  const days = (Date.parse(filled) - Date.now()) / 86400_000;
  assert.ok(days > 0 && days <= 31, `the red child's next visit, filled by the rule: ${filled}`);
  await page.locator('.chip[data-code=referral]').tap();
  await page.locator('[data-testid=save-visit]').tap();
  // No problem described, the referral half filled: refused, and said in Chinese
  // where the eye is — scrolled to, clear of the fixed save bar.
  const first = page.locator('[data-testid=problem][data-field=problems]');
  await first.waitFor();
  assert.match(await first.textContent(), /[\u4e00-\u9fff]/);
  await page.waitForTimeout(300);
  const bar = await page.locator('[data-testid=savebar]').boundingBox();
  const box = await first.boundingBox();
  assert.ok(box.y >= 56 && box.y + box.height <= bar.y, `the refusal (${box.y}–${box.y + box.height}) is above the save bar (${bar.y})`);
  await shot(page, 'visit-refused');
  await page.fill('[data-testid=problems]', '疑似遭受家庭暴力，已报警');
  await page.locator('[data-testid=referral] .chip[data-code=harm_or_abuse]').tap();
  await page.fill('[data-testid=referral-body]', '派出所');
  const inAWeek = new Date(Date.now() + 7 * 86400_000).toISOString().slice(0, 10);
  await page.fill('[data-testid=referral] input[type=date]', inAWeek);
  await saveVisit(page);
  await page.locator('[data-testid=back-to-file]').tap();
  await page.waitForSelector('[data-testid=visit]');
  assert.match(await page.locator('[data-testid=child-file]').textContent(), /派出所/);
  const childId = decodeURIComponent(page.url().split('/').pop());
  const file = await device.call('child_file', { child_id: childId });
  const red = file.visits.find((v) => v.risk_colour === 'red');
  assert.equal(red.next_due_on, filled, 'saved with the date the form showed');
});
