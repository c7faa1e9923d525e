// Two phones of one director edit the same child offline (issue 14 §4): the phone whose
// value was replaced says so on its home screen — which value was kept, which was
// replaced, in words — and puts the replaced value back in one tap, as a new edit that
// reaches the other phone through the server. The other phone is told its value was
// kept. Debian's Chromium at 360×640 against the real core (two bridges) and a real
// sync-server on loopback.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { PIN, enroll, waitForRoster, shot } from './steps.mjs';

let server, a, b, browser;
after(async () => {
  await browser?.close();
  await a?.stop();
  await b?.stop();
  await server?.stop();
  cleanup(server?.data, a?.data, b?.data);
});

const sync = (d) => d.call('sync_now', { wait: true, retries: 2 });

test('a value another phone replaced is shown on home, told right, and restored in one tap', { timeout: 240_000 }, async () => {
  server = await syncServer();
  a = await bridge();
  b = await bridge();
  browser = await launch();
  const page = await (await phone(browser)).newPage();
  await page.goto(a.url);
  await enroll(page, server);
  await waitForRoster(page);
  // The director's second phone (set up through its core, not looked at).
  await b.call('enroll', { server_url: server.url, code: server.issueCode() });
  await b.call('set_pin', { pin: PIN });
  await sync(b);

  const [child] = await a.call('roster', {});
  // Phone A writes the address and sends it; phone B, later, writes another.
  await a.call('edit_child', { child_id: child.child_id, changes: { current_address: '东街 1 号' } });
  await sync(a);
  await new Promise((r) => setTimeout(r, 20));
  await b.call('edit_child', { child_id: child.child_id, changes: { current_address: '西街 2 号' } });
  await sync(b);
  await sync(a);

  await page.goto(a.url + '#/home');
  const card = page.locator('[data-testid=replaced]');
  await card.waitFor();
  const text = await card.textContent();
  assert.ok(text.includes(child.name), `names the child: ${text}`);
  assert.match(text, /现住址/);
  const line = await card.locator('[data-testid=replaced-line]').textContent();
  assert.match(line, /这部手机上填的“东街 1 号”，被另一部手机改成了“西街 2 号”/, line);
  assert.doesNotMatch(text, /[0-9a-f]{8}-[0-9a-f]{4}|current_address/, 'no ids or field names');
  await shot(page, 'home-replaced');
  await card.locator('[data-testid=replaced-restore]').tap();
  await page.waitForSelector('[data-testid=replaced-restored]');
  assert.equal(await page.locator('[data-testid=replaced]').count(), 0, 'acted on: gone from home');
  assert.equal((await a.call('child_file', { child_id: child.child_id })).child.current_address, '东街 1 号');

  // The restore is an edit like any other: it reaches the other phone.
  await sync(a);
  await sync(b);
  assert.equal((await b.call('child_file', { child_id: child.child_id })).child.current_address, '东街 1 号');
  // Phone B is told, the other way round, and keeps what is there in one tap too.
  const onB = (await b.call('home', {})).replaced;
  assert.ok(onB.length >= 1, JSON.stringify(onB));
  assert.ok(onB.some((r) => r.replaced_zh === '西街 2 号' && r.kept_zh === '东街 1 号' && r.replaced_here), JSON.stringify(onB));
  for (const r of onB) await b.call('keep_current_value', { history_id: r.history_id });
  assert.deepEqual((await b.call('home', {})).replaced, []);
  // The child's file on A keeps the history, in words.
  await page.goto(a.url + `#/child/${child.child_id}`);
  await page.waitForSelector('[data-testid=history]');
  assert.match(await page.textContent('[data-testid=history]'), /现住址/);
});
