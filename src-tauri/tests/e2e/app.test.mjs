// The real Tauri binary, end to end, through tauri-driver and WebKitWebDriver under
// Xvfb: the app starts on a fresh phone, enrolls against a real sync-server on
// loopback, sets a PIN, pulls its village, records a visit, finds it in the roster;
// its page may call the app's own commands and nothing else; "lock now" shows the
// unlock screen (screenshot) and the PIN opens it again.
//   xvfb-run -a node --test src-tauri/tests/e2e/   (scripts/test-tauri.sh does it all)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Session } from './webdriver.mjs';
import { syncServer, tauriDriver, appCapabilities, tempDir, cleanup, screenshotPath, PIN } from './harness.mjs';

let server, driver, app, device;

async function pin(digits) {
  for (const d of digits) await app.click(`[data-key="${d}"]`);
  await app.click('[data-key=ok]');
}

const within = (ms, what, p) =>
  Promise.race([p, new Promise((_, no) => setTimeout(() => no(new Error(`${what}: no answer within ${ms} ms`)), ms))]);

async function shot(name) {
  const t0 = Date.now();
  await within(10_000, 'fonts', app.execute('return document.fonts && document.fonts.ready.then(() => true)'));
  const t1 = Date.now();
  const png = await within(20_000, 'screenshot', app.screenshot());
  console.log(`# ${name}: fonts ${t1 - t0} ms, screenshot ${Date.now() - t1} ms`);
  writeFileSync(screenshotPath(name), png);
}

/** `invoke` from the page, as the UI does it: `{ ok }` or `{ refused }`. */
function invoke(command, args) {
  return app.executeAsync(
    `const done = arguments[arguments.length - 1];
     window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])
       .then((ok) => done({ ok }), (e) => done({ refused: typeof e === 'string' ? e : JSON.stringify(e) }));`,
    [command, args],
  );
}

before(async () => {
  server = await syncServer();
  device = tempDir('device');
  driver = await tauriDriver({ TONGHU_DEVICE_DIR: device });
  app = await Session.start(driver.url, appCapabilities());
});

after(async () => {
  await app?.quit();
  await driver?.stop();
  await server?.stop();
  if (process.env.TONGHU_KEEP && device) console.log(`# device data kept in ${device}`);
  else cleanup(device);
  cleanup(server?.data);
});

test('a new phone enrolls, sets its PIN and pulls its village', { timeout: 120_000 }, async () => {
  await app.waitFor('[data-testid=enroll-form]', 60_000);
  assert.equal(await app.execute('return location.protocol'), 'tauri:', 'the UI is the app bundle, not a web page');
  await app.type('input[name=server_url]', server.url);
  await app.type('input[name=code]', server.code);
  await app.click('[data-testid=enroll-form] button[type=submit]');
  await app.waitFor('[data-testid=pin-prompt]');
  await pin(PIN);
  await app.waitUntil(`return document.querySelector('[data-testid=pin-dots]')?.getAttribute('data-n') === '0'`);
  await pin(PIN);
  await app.waitFor('[data-testid=home]', 30_000);
  // The runner's first round pulls the village; home lists the children due.
  await app.waitFor('[data-testid=child-row]', 60_000);
});

test('a visit recorded in the app is in the roster', { timeout: 120_000 }, async () => {
  const child = await app.execute(`const r = document.querySelector('[data-testid=child-row]');
    return { id: r.dataset.child, name: r.querySelector('.name').textContent.trim() };`);
  await app.click(`[data-testid=child-row][data-child="${child.id}"]`);
  await app.click('[data-testid=new-visit]');
  await app.click('[data-testid=all-normal]');
  await app.click('[data-testid=visit-risk] [data-code=green]');
  await app.click('[data-testid=save-visit]');
  await app.waitFor('[data-testid=visit-saved]', 30_000);

  await app.execute(`location.hash = '#/roster'`);
  await app.waitFor('[data-testid=roster-count]');
  await app.type('[data-testid=roster-search]', child.name);
  const row = `[data-testid=child-row][data-child="${child.id}"]`;
  await app.waitFor(row);
  // "Visited, not synced" until the runner's round after the save, then today's date.
  const today = new Date();
  const visitedToday = `上次走访 ${today.getMonth() + 1}月${today.getDate()}日`;
  const last = await app.waitUntil(
    `const t = document.querySelector(${JSON.stringify(row)})?.querySelector('.last')?.textContent.trim();
     return t === '已走访，未同步' || t === ${JSON.stringify(visitedToday)} ? t : null;`,
    15_000,
    `the roster row of ${child.name} says it was visited today`,
  );
  console.log(`# ${child.name} in the roster: ${last}`);
  await shot('tauri-roster');
});

test('the page may call the app\u2019s own commands and nothing else', { timeout: 60_000 }, async () => {
  const state = await invoke('app_state', { args: {} });
  assert.equal(state.ok?.phase, 'unlocked', JSON.stringify(state));
  // A device refusal comes back as the UserError itself.
  const bad = await invoke('child_file', { args: { child_id: 'not-a-uuid' } });
  assert.ok(bad.refused, JSON.stringify(bad));
  assert.ok(JSON.parse(bad.refused).zh, bad.refused);
  // Commands of Tauri's own and of plugins are not the app's: refused before running.
  for (const cmd of ['plugin:fs|read_file', 'plugin:shell|execute', 'plugin:window|close', 'plugin:webview|create_webview_window']) {
    const r = await invoke(cmd, { path: '/etc/passwd' });
    assert.ok(r.refused, `${cmd} was allowed: ${JSON.stringify(r)}`);
  }
});

test('locked, the app shows the unlock screen and opens with the PIN', { timeout: 60_000 }, async () => {
  await app.execute(`location.hash = '#/settings'`);
  await app.click('[data-testid=lock-now]');
  await app.waitFor('[data-key=ok]');
  const state = await invoke('app_state', { args: {} });
  assert.equal(state.ok?.phase, 'locked', JSON.stringify(state));
  await shot('tauri-unlock');
  await pin(PIN);
  await app.waitFor('[data-testid=home], [data-testid=settings], [data-testid=roster]', 30_000);
  assert.equal((await invoke('app_state', { args: {} })).ok?.phase, 'unlocked');
});
