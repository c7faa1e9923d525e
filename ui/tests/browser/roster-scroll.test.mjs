// The roster's virtual list shows the right child at every place: after flings, jumps
// to the top and the bottom, a filter or a search changing the list's length, and the
// window changing size, every row on the screen is exactly the child the core lists at
// that place (name, risk word, position), with none missing and none doubled; a tap
// opens that child's file; Tab walks the rows in the roster's order, across the slots'
// wrap, and out of the list. Checked in every frame of a fling, not only at its end.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone, VIEWPORT } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { enroll, waitForRoster, shot } from './steps.mjs';

let server, device, browser;
after(async () => {
  await browser?.close();
  await device?.stop();
  await server?.stop();
  cleanup(server?.data, device?.data);
});

const EXTRA = 240; // children added to the demo village's: several pools' worth of rows

/** In the page: what every row element on the screen shows, and where. */
function screenRows() {
  const list = document.querySelector('.vlist');
  const lt = list.getBoundingClientRect().top;
  const out = [];
  for (const slot of list.querySelectorAll('.vrow')) {
    if (slot.hidden) continue;
    const r = slot.getBoundingClientRect();
    if (r.bottom <= 0 || r.top >= innerHeight) continue;
    const row = slot.querySelector('[data-testid=child-row]');
    const risk = row?.querySelector('[data-risk]');
    out.push({
      at: (r.top - lt) / r.height,
      height: r.height,
      posinset: Number(slot.getAttribute('aria-posinset')),
      child: row?.dataset.child ?? null,
      href: row?.getAttribute('href') ?? null,
      name: row?.querySelector('.name')?.textContent.trim() ?? null,
      risk: risk?.dataset.risk ?? null,
      riskWord: risk?.textContent.trim() ?? null,
    });
  }
  return { listTop: lt, innerHeight, scrollY, rows: out };
}

/** The places of the rows whose top is at least `y` px down the screen, in order. */
function placesFrom(seen, y) {
  return seen.rows.filter((r) => seen.listTop + r.at * r.height >= y).map((r) => Math.round(r.at)).sort((a, b) => a - b);
}

/** Every problem in one screen's rows against the core's list (empty: all right). */
function problems(seen, expected, riskLabel) {
  const bad = [];
  const rowH = seen.rows[0]?.height ?? 69;
  const firstOn = Math.max(0, Math.floor(-seen.listTop / rowH));
  const lastOn = Math.min(expected.length - 1, Math.floor((seen.innerHeight - 1 - seen.listTop) / rowH));
  const at = new Map();
  for (const r of seen.rows) {
    const k = Math.round(r.at);
    if (Math.abs(r.at - k) > 0.01) bad.push(`a row between places: ${r.at}`);
    if (at.has(k)) bad.push(`two rows at place ${k}`);
    at.set(k, r);
    const want = expected[k];
    if (!want) { bad.push(`a row at place ${k}, past the list's ${expected.length}`); continue; }
    if (r.child !== want.child_id) bad.push(`place ${k}: child ${r.child} (${r.name}), expected ${want.child_id} (${want.name})`);
    if (r.name !== want.name) bad.push(`place ${k}: name ${r.name}, expected ${want.name}`);
    if (r.href !== `#/child/${want.child_id}`) bad.push(`place ${k}: link ${r.href}`);
    if (r.posinset !== k + 1) bad.push(`place ${k}: aria-posinset ${r.posinset}`);
    if ((r.risk ?? null) !== (want.risk_colour ?? null)) bad.push(`place ${k}: risk ${r.risk}, expected ${want.risk_colour}`);
    if (want.risk_colour && !(r.riskWord && riskLabel[want.risk_colour].startsWith(r.riskWord))) bad.push(`place ${k}: risk word ${r.riskWord} for ${riskLabel[want.risk_colour]}`);
  }
  for (let k = firstOn; k <= lastOn; k++) if (!at.has(k)) bad.push(`place ${k} on the screen shows no row`);
  return bad;
}

test('the roster shows the right child at every place while flung, jumped, filtered, resized and tabbed through', { timeout: 300_000 }, async () => {
  server = await syncServer();
  device = await bridge();
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(device.url);
  await enroll(page, server);
  await waitForRoster(page);

  const [village] = (await device.call('app_state')).villages;
  const surn = '王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧';
  const giv = '小花明欣怡子涵浩然雨桐梓轩诗琪俊杰佳宇航思彤晨阳一诺可馨嘉懿若曦';
  for (let i = 0; i < EXTRA; i++) {
    await device.call('add_child', {
      name: surn[i % surn.length] + giv[(i * 7) % giv.length] + giv[(i * 13 + 3) % giv.length] + (i % 3 ? '' : '儿'),
      sex: i % 2 ? 'male' : 'female', birth_date: `${2012 + (i % 12)}-0${1 + (i % 9)}-1${i % 9}`, village_code: village,
      categories: [['left_behind', 'difficulty', 'community_orphan', 'key_difficulty'][i % 4]],
      risk_colour: ['red', 'yellow', 'blue', 'green'][(i * 3) % 4], added_on: '2026-01-05',
    });
  }
  const vocab = await device.call('vocabulary');
  const riskLabel = Object.fromEntries(vocab.risk_colours.map((c) => [c.code, c.zh]));
  const roster = (args = {}) => device.call('roster', { overdue_only: false, include_exited: false, ...args });
  let expected = await roster();
  assert.ok(expected.length >= EXTRA, `the roster lists ${expected.length}`);

  await page.goto(device.url + '#/roster');
  const countIs = (n) => page.waitForFunction((n) => Number(document.querySelector('[data-testid=roster-count]')?.textContent.match(/\d+/)?.[0]) === n, n);
  await countIs(expected.length);
  const check = async (what) => {
    // The frame after: a refill happens in the frame that shows the rows.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const seen = await page.evaluate(screenRows);
    const bad = problems(seen, expected, riskLabel);
    assert.deepEqual(bad, [], `${what} (scrollY ${seen.scrollY}): ${bad.slice(0, 5).join('; ')}`);
    assert.ok(seen.rows.length >= Math.min(5, expected.length), `${what}: ${seen.rows.length} rows on the screen`);
    return seen;
  };
  await check('the roster opened');

  // Every frame of a fling, checked in the frame it is painted: a scroll listener added
  // after the list's own asks for its frame after the list's refill.
  await page.evaluate(`window.__screenRows = ${screenRows.toString()}`);
  const fling = async (plan) => page.evaluate(async (plan) => {
    const seen = [];
    const onScroll = () => requestAnimationFrame(() => seen.push(window.__screenRows()));
    addEventListener('scroll', onScroll, { passive: true });
    for (const dy of plan) {
      scrollBy(0, dy);
      await new Promise((r) => requestAnimationFrame(r));
    }
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    removeEventListener('scroll', onScroll);
    return seen;
  }, plan);
  const decay = (v0, sign) => { const out = []; for (let v = v0; v > 2; v *= 0.95) out.push(sign * Math.round(v)); return out; };
  const checkFrames = (frames, what) => {
    assert.ok(frames.length > 20, `${what}: ${frames.length} frames seen`);
    frames.forEach((seen, i) => {
      const bad = problems(seen, expected, riskLabel);
      assert.deepEqual(bad, [], `${what}, frame ${i} (scrollY ${seen.scrollY}): ${bad.slice(0, 5).join('; ')}`);
    });
  };
  checkFrames(await fling(decay(133, 1)), 'a fling down at Android\'s fastest');
  await check('after the fling');
  checkFrames(await fling(Array.from({ length: 40 }, () => 240)), '240 px a frame down');
  checkFrames(await fling(Array.from({ length: 25 }, () => -360)), '360 px a frame up');
  checkFrames(await fling(decay(133, -1)), 'a fling back up');

  // A tap opens the child shown under the finger.
  await fling(decay(133, 1));
  const mid = await check('before a tap');
  const under = placesFrom(mid, VIEWPORT.height / 2 - 40)[0];
  const tapped = expected[under];
  await page.locator(`[data-testid=child-row][data-child="${tapped.child_id}"]`).tap();
  await page.waitForSelector('[data-testid=child-file]');
  assert.equal((await page.locator('[data-testid=child-name]').textContent()).trim(), tapped.name);
  await page.goBack();
  await countIs(expected.length);
  await check('back on the roster');

  // Jumps: the bottom, the top, the middle.
  await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
  const bottom = await check('jumped to the bottom');
  assert.ok(bottom.rows.some((r) => Math.round(r.at) === expected.length - 1), 'the last child is on the screen at the bottom');
  await shot(page, 'roster-bottom');
  await page.evaluate(() => scrollTo(0, 0));
  await check('jumped to the top');
  await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight / 2));
  await check('jumped to the middle');

  // A filter shortens the list while the page is far down; the whole list comes back.
  await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
  await page.selectOption('[data-testid=filter-risk]', 'red');
  expected = await roster({ risk_colour: 'red' });
  assert.ok(expected.length > 40 && expected.length < 150, `${expected.length} red children`);
  await countIs(expected.length);
  await check('filtered to red, from the bottom');
  checkFrames(await fling(decay(133, -1)), 'a fling up through the red children');
  await page.selectOption('[data-testid=filter-risk]', '');
  expected = await roster();
  await countIs(expected.length);
  await check('every colour again');
  // A search down to a few children, then none, then all.
  await page.fill('[data-testid=roster-search]', '儿');
  const found = await roster({ search: '儿' });
  assert.ok(found.length > 40 && found.length < expected.length, `${found.length} found by 儿`);
  expected = found;
  await countIs(expected.length);
  await check('searched');
  const one = expected[expected.length - 1];
  await page.fill('[data-testid=roster-search]', one.name);
  expected = await roster({ search: one.name });
  await countIs(expected.length);
  await check('searched for one name');
  await page.fill('[data-testid=roster-search]', '');
  expected = await roster();
  await countIs(expected.length);
  await check('the search cleared');

  // The window grows and shrinks (a rotated phone, a keyboard): the pool follows.
  await page.evaluate(() => scrollTo(0, 4000));
  await page.setViewportSize({ width: VIEWPORT.width, height: 1100 });
  await check('a taller window');
  checkFrames(await fling(decay(133, 1)), 'a fling in the taller window');
  await page.setViewportSize({ width: 640, height: 360 });
  await check('a wide window');
  await page.setViewportSize(VIEWPORT);
  await check('back to 360×640');
  checkFrames(await fling(decay(133, -1)), 'a fling back at 360×640');

  // Tab walks the rows in the roster's order, past the slots' wrap, always on screen.
  await page.evaluate(() => scrollTo(0, 2000));
  const start = placesFrom(await check('before Tab'), 120)[0];
  await page.locator(`[data-testid=child-row][data-child="${expected[start].child_id}"]`).focus();
  const focused = () => page.evaluate(() => {
    const a = document.activeElement;
    const r = a.getBoundingClientRect();
    const bar = document.querySelector('.topbar').getBoundingClientRect().bottom;
    const nav = document.querySelector('nav.bottom')?.getBoundingClientRect().top ?? innerHeight;
    return { child: a.dataset.child ?? null, inNav: !!a.closest('nav.bottom'), inFilters: !!a.closest('.filters'), clear: r.top >= bar - 1 && r.bottom <= nav + 1 };
  });
  for (let i = 1; i <= 40; i++) {
    await page.keyboard.press('Tab');
    const f = await focused();
    assert.equal(f.child, expected[start + i].child_id, `Tab ${i} from place ${start}`);
    assert.ok(f.clear, `Tab ${i}: the focused row is on the screen, clear of the bars`);
  }
  for (let i = 39; i >= 30; i--) {
    await page.keyboard.press('Shift+Tab');
    assert.equal((await focused()).child, expected[start + i].child_id, `Shift+Tab back to place ${start + i}`);
  }
  // Scrolled far away, the focused row's slot shows another child: Tab goes on from it.
  await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
  await check('scrolled away from the focus');
  await page.evaluate(() => new Promise((r) => { let n = 20; const f = () => (--n ? requestAnimationFrame(f) : r()); requestAnimationFrame(f); }));
  await page.keyboard.press('Tab');
  assert.equal((await focused()).child, expected[start + 31].child_id, 'Tab goes on from the row that had the focus');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=child-file]');
  assert.equal((await page.locator('[data-testid=child-name]').textContent()).trim(), expected[start + 31].name, 'Enter opens the focused child');
  await page.goBack();
  await countIs(expected.length);
  // Out of the list at its end, into the bottom bar; in from the filters at the first
  // row on the screen.
  await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
  await check('at the end, before Tab');
  await page.locator(`[data-testid=child-row][data-child="${expected[expected.length - 2].child_id}"]`).focus();
  await page.keyboard.press('Tab');
  assert.equal((await focused()).child, expected[expected.length - 1].child_id);
  await page.keyboard.press('Tab');
  assert.ok((await focused()).inNav, 'Tab from the last child goes to the bottom bar');
  await page.keyboard.press('Shift+Tab');
  assert.equal((await focused()).child, expected[expected.length - 1].child_id, 'Shift+Tab from the bottom bar comes back to the last child');
  await page.evaluate(() => scrollTo(0, 0));
  await check('at the top, before Tab in');
  await page.locator('[data-testid=filter-overdue]').focus();
  await page.keyboard.press('Tab'); // the "include exited" box
  await page.keyboard.press('Tab');
  assert.equal((await focused()).child, expected[0].child_id, 'Tab from the filters comes to the first child');
  await page.keyboard.press('Shift+Tab');
  assert.ok((await focused()).inFilters, 'Shift+Tab from the first child goes back to the filters');
});
