// The supervisor console in a real browser (Debian's Chromium via playwright-core)
// against a real sync-server, on SQLite and on PostgreSQL. A known township is set up
// the way an admin would (roster upload in the browser, login codes from the accounts
// page) and filled through the sync API with records of known dates, so every count
// on the overview is known in advance.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { Server, RawDevice, launch, backends, daysAgo, firstLogin, login, figures, fieldctl, hasChinese, labels, uuid7, repo } from './harness.mjs';

// What the CLI imports before the server starts: the city, the county with its admin,
// and a second township whose supervisor must not see the first.
const BOOTSTRAP = `kind,code,name,parent
city,C1,测试市,
county,K0,测试区,C1
township,T2,东山街道,K0
village,V21,东山村,T2
director,dir-v21,儿童主任东山,V21
supervisor,sup-t2,督导员东山,T2
county_admin,adm-k0,区民政管理员,K0
`;
// What the admin uploads in the browser: the known township.
const UPLOAD = `kind,code,name,parent
city,C1,测试市,
county,K0,测试区,C1
township,T1,向阳街道,K0
village,V11,向阳一村,T1
village,V12,向阳二村,T1
director,dir-v11,儿童主任一村,V11
director,dir-v12,儿童主任二村,V12
supervisor,sup-t1,督导员向阳,T1
`;
const ID_NUMBER = '370602201501011234';
const PASSWORD = 'correct-horse-battery';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Writes the known township's records; returns the children's ids by letter. */
async function seedKnownTownship(server) {
  const d11 = new RawDevice(server, server.provision('dir-v11'));
  const d12 = new RawDevice(server, server.provision('dir-v12'));
  const child = (dev, village, name, risk, cats, addedAgo, extra = {}) =>
    dev.row('child', village, { name, sex: 'female', birth_date: '2015-01-01', household_registered: true, village_code: village, categories: cats, risk_colour: risk, status: 'active', added_on: daysAgo(addedAgo), ...extra });
  const visit = (dev, village, childId, ago, risk) =>
    dev.row('visit', village, { child_id: childId, visited_at: `${daysAgo(ago)}T10:00:00+08:00`, mode: 'home', visitor: '儿童主任', checklist: { living: { status: 'normal' }, guardianship: { status: 'normal' }, education: { status: 'normal' }, health: { status: 'normal' }, safety: { status: 'normal' }, mood: { status: 'normal' } }, risk_colour: risk, emergency: false, actions: [] });
  // A: red, de-facto unsupported (monthly), last visit 40 days ago → overdue 10 days; an open mandatory report past its date.
  const A = child(d11, 'V11', '甲童', 'red', ['de_facto_unsupported'], 200, { id_number: ID_NUMBER });
  visit(d11, 'V11', A, 40, 'red');
  d11.row('referral', 'V11', { child_id: A, kind: 'harm_or_abuse', receiving_body: '派出所', referred_on: daysAgo(20), feedback_due_on: daysAgo(3) });
  // B: green, left behind (quarterly), visited 10 days ago → not overdue; no care agreement.
  const B = child(d11, 'V11', '乙童', 'green', ['left_behind'], 200);
  visit(d11, 'V11', B, 10, 'green');
  // C: yellow (monthly), visited 50 days ago → overdue; later "visited, not synced".
  const C = child(d11, 'V11', '丙童', 'yellow', ['difficulty'], 200);
  visit(d11, 'V11', C, 50, 'yellow');
  // D: blue, left behind, visited 5 days ago; agreement ends in 10 days → expiring.
  const D = child(d12, 'V12', '丁童', 'blue', ['left_behind'], 200);
  visit(d12, 'V12', D, 5, 'blue');
  d12.row('agreement_version', 'V12', { child_id: D, draft_id: '01900000-0000-7000-8000-000000000001', version: 1, canonical_text: '委托照护协议（测试）', text_sha256: 'a'.repeat(64), valid_from: daysAgo(300), valid_until: daysAgo(-10), signed_at: `${daysAgo(300)}T10:00:00+08:00` });
  // E: red, never visited, added 30 days ago → first visit long overdue.
  const E = child(d12, 'V12', '戊童', 'red', ['difficulty'], 30);
  for (const d of [d11, d12]) {
    const r = await d.push();
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.rejected, [], 'every known record is accepted');
  }
  return { ids: { A, B, C, D, E }, d11 };
}

for (const backend of backends()) {
  test(`the supervisor console on ${backend}`, { timeout: 240_000 }, async (t) => {
    const server = await Server.start(backend, BOOTSTRAP);
    t.after(() => server.stop());
    const adminCtx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN' });
    const admin = await adminCtx.newPage();
    const supCtx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN' });
    const sup = await supCtx.newPage();
    let known;

    await t.test('an admin logs in with a one-time code and uploads the roster in the browser', async () => {
      const code = server.admin(['login-code', '--account', 'adm-k0']).trim();
      await firstLogin(admin, server, 'adm-k0', code, PASSWORD);
      assert.match(admin.url(), /\/console\/overview$/);
      assert.match(await admin.textContent('#place-name'), /测试区/);
      await admin.goto(server.url('/console/admin'));
      await admin.setInputFiles('#roster-form input[type=file]', { name: 'roster.csv', mimeType: 'text/csv', buffer: Buffer.from(UPLOAD) });
      await Promise.all([admin.waitForNavigation(), admin.click('#roster-form button[type=submit]')]);
      assert.match(await admin.textContent('#notice'), /已导入 5 个地点、3 个账号/);
      assert.ok(await admin.$('#accounts tr[data-login="sup-t1"]'), 'the uploaded supervisor is listed');
      // A roster line outside the admin's county is refused, and says why.
      await admin.setInputFiles('#roster-form input[type=file]', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('kind,code,name,parent\ndirector,x,y,NOPE\n') });
      const [res] = await Promise.all([admin.waitForNavigation(), admin.click('#roster-form button[type=submit]')]);
      assert.equal(res.status(), 400);
      assert.match(await admin.textContent('#error'), /名册第 2 行有误/);
      // One language: the error says what is wrong in Chinese, with no English line.
      const error = await admin.textContent('#error');
      assert.match(error, /“NOPE”须是前面已列出的村/);
      assert.doesNotMatch(error.replace('NOPE', ''), /[A-Za-z]{3,}/, error);
    });

    await t.test('the supervisor sees the exact counts of the known township', async () => {
      known = await seedKnownTownship(server);
      await admin.goto(server.url('/console/admin'));
      await Promise.all([admin.waitForNavigation(), admin.click('#accounts tr[data-login="sup-t1"] button[data-action="login-code"]')]);
      const code = (await admin.textContent('#secret-code')).trim();
      await firstLogin(sup, server, 'sup-t1', code, PASSWORD);
      assert.match(await sup.textContent('#place-name'), /向阳街道/);
      assert.deepEqual(await figures(sup), {
        children: 5, overdue_not_visited: 3, overdue_visited_unsynced: 0, red: 2, yellow: 1, blue: 1, green: 1,
        agreements_missing: 1, agreements_expiring: 1, referrals_late: 0, reports_late: 1, devices_silent: 0,
      });
      const overdue = await sup.$$eval('#overdue tr[data-child]', (rows) => rows.map((r) => r.dataset.child));
      assert.deepEqual(new Set(overdue), new Set([known.ids.A, known.ids.C, known.ids.E]));
      assert.equal(overdue[0] === known.ids.A || overdue[0] === known.ids.E, true, 'red children first');
      const cookies = await supCtx.cookies();
      const session = cookies.find((c) => c.name === 'tonghu_session');
      assert.ok(session.httpOnly, 'the session cookie is HttpOnly');
      assert.equal(session.sameSite, 'Strict');
    });

    await t.test('"visited, not synced" appears after a phone sends only its heartbeat', async () => {
      const r = await known.d11.push({ pending_changes: 9, oldest_pending_secs: 7200, unsent_visit_children: [known.ids.C] });
      assert.equal(r.status, 200);
      await sup.reload();
      const f = await figures(sup);
      assert.equal(f.overdue_not_visited, 2);
      assert.equal(f.overdue_visited_unsynced, 1);
      assert.equal(await sup.getAttribute(`#overdue tr[data-child="${known.ids.C}"]`, 'data-state'), 'visited_unsynced');
      assert.match(await sup.textContent('#directors tr[data-login="dir-v11"] .pending'), /9 条记录/);
    });

    await t.test('drill-down to a director and a child, ID number masked, the view logged', async () => {
      await Promise.all([sup.waitForNavigation(), sup.click('#directors tr[data-login="dir-v11"] a')]);
      assert.match(await sup.textContent('#director-name'), /儿童主任一村/);
      assert.equal((await sup.$$('#children tr[data-child]')).length, 3);
      await Promise.all([sup.waitForNavigation(), sup.click(`#children tr[data-child="${known.ids.A}"] a`)]);
      assert.match(await sup.textContent('#child-name'), /甲童/);
      assert.equal((await sup.textContent('#child-fields tr[data-field="id_number"] td')).trim(), '3706**********1234');
      assert.ok(!(await sup.content()).includes(ID_NUMBER), 'the full ID number is never sent');
      await admin.goto(server.url('/console/admin/access-log'));
      // The access log in names: who, what, whom; no codes or ids.
      const log = await admin.textContent('#people-log');
      assert.match(log, /督导员向阳\s*查看儿童档案\s*甲童/);
      assert.match(log, /督导员向阳\s*查看儿童主任\s*儿童主任一村/);
      assert.ok(!log.includes(known.ids.A) && !log.includes('view_child') && !log.includes('sup-t1'), log);
    });

    await t.test('exports are files of the overdue list and the overview, logged', async () => {
      const csv = await sup.evaluate(async () => (await fetch('/console/export/overdue.csv?place=T1')).text());
      assert.match(csv, /甲童/);
      assert.match(csv, /已走访，未同步/);
      const head = await sup.evaluate(async () => {
        const b = new Uint8Array(await (await fetch('/console/export/overview.xlsx?place=T1')).arrayBuffer());
        return String.fromCharCode(b[0], b[1]);
      });
      assert.equal(head, 'PK', 'an XLSX (zip) workbook');
      const named = await sup.evaluate(async () => (await fetch('/console/export/overdue.xlsx?place=T1')).headers.get('content-disposition'));
      assert.match(decodeURIComponent(named.split("UTF-8''")[1]), new RegExp(`^逾期名单-向阳街道-${daysAgo(0)}\\.xlsx$`));
      await admin.goto(server.url('/console/admin/access-log'));
      assert.match(await admin.textContent('#people-log'), /导出\s*概况 · 向阳街道 \(XLSX\)/);
    });

    await t.test('a lost phone: before the click the admin reads its unsent records and files; the quarantine reads in names; the supervisor is told', async () => {
      // dir-v12's second phone: its last push sent 1 of the 12 records it reported, none of its 3 files.
      const lost = new RawDevice(server, server.provision('dir-v12'));
      lost.row('child', 'V12', { notes: '奶奶腿脚不便' }, known.ids.D);
      const r = await lost.push({ pending_changes: 12, pending_blobs: 3, oldest_pending_secs: 3 * 86400 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await admin.goto(server.url('/console/admin'));
      const phones = `#accounts tr[data-login="dir-v12"] tr[data-device]`;
      assert.equal((await admin.$$(phones)).length, 2, 'a director with two phones is one row with both phones inside');
      const row = `#accounts tr[data-device="${lost.id}"]`;
      assert.match(await admin.textContent(`${row} .pending`), /^11 条记录 · 3 个照片或签名文件$/);
      await Promise.all([admin.waitForNavigation(), admin.click(`${row} [data-action="revoke"]`)]);
      const what = await admin.textContent('#revoke-what');
      assert.match(what, /还有 11 条未上传的记录、3 个未上传的照片或签名文件/);
      assert.match(what, /交到隔离区/);
      assert.match(what, /3 个未上传的照片或签名文件无法交出/);
      if (server.backend === 'sqlite') await admin.screenshot({ path: join(repo, 'docs/screenshots/console-revoke.png'), fullPage: true });
      await Promise.all([admin.waitForNavigation(), admin.click('#revoke-confirm')]);
      // The phone's next contact hands over a red visit it never sent, and is refused.
      const visit = lost.row('visit', 'V12', { child_id: known.ids.D, visited_at: `${daysAgo(1)}T01:30:00+00:00`, mode: 'home', visitor: '儿童主任', checklist: { safety: { status: 'abnormal', note: '门锁坏了' } }, risk_colour: 'red', emergency: false, actions: [] });
      const refused = await lost.push({ pending_changes: 9, pending_blobs: 3 });
      assert.equal(refused.status, 401);
      await admin.goto(server.url(`/console/admin/devices/${lost.id}/quarantine`));
      const q = await admin.textContent(`#quarantine tr[data-row="${visit}"]`);
      for (const want of ['丁童', '走访记录', '红色（立即干预）', `${daysAgo(1)} 09:30`, '安全：异常（门锁坏了）', '入户走访']) assert.ok(q.includes(want), `${want} in ${q}`);
      const page = await admin.textContent('main');
      for (const never of ['risk_colour', 'visited_at', 'child_id', 'abnormal', known.ids.D, lost.id]) assert.ok(!page.includes(never), `${never} on the quarantine page`);
      if (server.backend === 'sqlite') await admin.screenshot({ path: join(repo, 'docs/screenshots/console-quarantine.png'), fullPage: true });
      await sup.goto(server.url('/console/overview'));
      assert.match(await sup.textContent('#quarantine-note'), /已停用的手机“[^”]+”（儿童主任二村）交出了 \d+ 条未上传的记录/);
    });

    await t.test('one language at a time: the switch turns every page into English and back', async () => {
      await sup.goto(server.url('/console/overview'));
      assert.equal(await sup.getAttribute('html', 'lang'), 'zh-CN');
      for (const l of await labels(sup)) assert.doesNotMatch(l, /[A-Za-z]/, `Chinese page, English label: ${l}`);
      await Promise.all([sup.waitForNavigation(), sup.click('#lang-switch')]);
      assert.match(sup.url(), /\/console\/overview$/, 'back on the same page');
      assert.equal(await sup.getAttribute('html', 'lang'), 'en');
      for (const path of ['/console/overview', '/console/directors/dir-v11', `/console/children/${known.ids.A}`]) {
        await sup.goto(server.url(path));
        for (const l of await labels(sup)) assert.ok(!hasChinese(l), `${path}: English page, Chinese label: ${l}`);
      }
      await sup.goto(server.url('/console/overview'));
      assert.equal((await figures(sup)).children, 5);
      assert.match(await sup.textContent('#overdue'), /Days overdue/);
      if (server.backend === 'sqlite') await sup.screenshot({ path: join(repo, 'docs/screenshots/console-overview-en.png'), fullPage: true });
      await Promise.all([sup.waitForNavigation(), sup.click('#lang-switch')]);
      assert.equal(await sup.getAttribute('html', 'lang'), 'zh-CN');
    });

    await t.test('a page on another site can neither frame the console nor make it act; every page says so in its headers', async () => {
      const res = await admin.goto(server.url('/console/admin'));
      const h = res.headers();
      assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
      assert.doesNotMatch(h['content-security-policy'], /unsafe-inline/);
      assert.equal(h['x-frame-options'], 'DENY');
      assert.equal(h['x-content-type-options'], 'nosniff');
      const id = await admin.getAttribute('#accounts tr[data-login="dir-v12"] tr[data-device]', 'data-device');
      const csrf = await admin.getAttribute('input[name=csrf]', 'value');
      // Another origin (another port on the same host: the same site for cookies, so the session cookie goes along).
      const evil = createServer((req, out) => {
        out.writeHead(200, { 'content-type': 'text/html' });
        out.end(req.url === '/frame'
          ? `<iframe id="f" src="${server.url('/console/overview')}"></iframe>`
          : `<form id="f" method="post" action="${server.url(`/console/admin/devices/${id}/revoke`)}"><input name="csrf" value="${csrf}"></form><script>document.getElementById('f').submit()</script>`);
      });
      await new Promise((ok) => evil.listen(0, '127.0.0.1', ok));
      t.after(() => evil.close());
      const at = `http://127.0.0.1:${evil.address().port}`;
      const [post] = await Promise.all([
        admin.waitForResponse((r) => r.url().endsWith(`/devices/${id}/revoke`)),
        admin.goto(`${at}/post`),
      ]);
      assert.equal(post.status(), 403);
      await admin.waitForSelector('#error');
      assert.equal(await admin.getAttribute('#error', 'data-code'), 'cross_site');
      await admin.goto(server.url('/console/admin'));
      assert.match(await admin.textContent(`#accounts tr[data-device="${id}"]`), /在用/, 'nothing was revoked');
      await admin.goto(`${at}/frame`);
      await admin.waitForTimeout(500);
      const framed = admin.frames().find((f) => f !== admin.mainFrame());
      const inside = framed ? await framed.evaluate(() => document.body?.innerText ?? '').catch(() => '') : '';
      assert.ok(!inside.includes('向阳街道'), "the console does not render inside another site's frame");
    });

    await t.test("another township's supervisor is refused: 403 and nothing rendered", async () => {
      await admin.goto(server.url('/console/admin'));
      await Promise.all([admin.waitForNavigation(), admin.click('#accounts tr[data-login="sup-t2"] button[data-action="login-code"]')]);
      const code = (await admin.textContent('#secret-code')).trim();
      const ctx = await browser.newContext();
      const other = await ctx.newPage();
      await firstLogin(other, server, 'sup-t2', code, PASSWORD);
      for (const path of ['/console/overview?place=T1', `/console/children/${known.ids.A}`, '/console/directors/dir-v11', '/console/export/overdue.csv?place=T1']) {
        const res = await other.goto(server.url(path));
        assert.equal(res.status(), 403, path);
        const html = await other.content();
        assert.ok(!html.includes('甲童') && !html.includes('向阳一村'), `nothing of T1 on ${path}`);
      }
      const api = await other.evaluate(async (id) => { const r = await fetch(`/api/v1/console/children/${id}`); return [r.status, await r.json()]; }, known.ids.A);
      assert.equal(api[0], 403);
      assert.equal(api[1].code, 'out_of_scope');
      await ctx.close();
    });

    await t.test('a forged CSRF token is refused and changes nothing', async () => {
      await admin.goto(server.url('/console/admin'));
      const row = '#accounts tr[data-login="dir-v12"] tr[data-device]';
      await Promise.all([admin.waitForNavigation(), admin.click(`${row} [data-action="revoke"]`)]);
      await admin.$$eval('input[name=csrf]', (els) => els.forEach((e) => { e.value = 'forged'; }));
      const [res] = await Promise.all([admin.waitForNavigation(), admin.click('#revoke-confirm')]);
      assert.equal(res.status(), 403);
      assert.equal(await admin.getAttribute('#error', 'data-code'), 'csrf_mismatch');
      await admin.goto(server.url('/console/admin'));
      assert.match(await admin.textContent(row), /在用/, 'the device was not revoked');
      // A cross-site form post carries no session at all (SameSite=Strict) and no token.
      const status = await sup.evaluate(async () => (await fetch('/console/logout', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=nope' })).status);
      assert.equal(status, 403);
    });

    await t.test('revoke from the browser: the phone wipes itself at its next sync', async () => {
      await admin.goto(server.url('/console/admin'));
      await Promise.all([admin.waitForNavigation(), admin.click('#accounts tr[data-login="dir-v11"] button[data-action="enroll-code"]')]);
      const code = (await admin.textContent('#secret-code')).trim();
      const phone = join(mkdtempSync(join(tmpdir(), 'tonghu-phone-')), 'device');
      assert.equal(fieldctl(phone, ['enroll', '--server', server.base, '--code', code, '--name', 'lost-phone']).code, 0);
      assert.equal(fieldctl(phone, ['sync']).code, 0);
      assert.equal(JSON.parse(fieldctl(phone, ['--json', 'roster']).out).length, 3, 'the phone holds its village');
      const id = JSON.parse(fieldctl(phone, ['--json', 'status']).out).device_id;
      await admin.goto(server.url('/console/admin'));
      await Promise.all([admin.waitForNavigation(), admin.click(`#accounts tr[data-device="${id}"] [data-action="revoke"]`)]);
      assert.match(await admin.textContent('#revoke-what'), /从未上传过记录/, 'a phone that never sent records never reported its counts');
      await Promise.all([admin.waitForNavigation(), admin.click('#revoke-confirm')]);
      assert.match(await admin.textContent('#notice'), /已停用儿童主任一村的手机“lost-phone”/);
      const sync = fieldctl(phone, ['sync']);
      assert.notEqual(sync.code, 0);
      assert.match(sync.out, /停用|revoked/);
      assert.equal(JSON.parse(fieldctl(phone, ['--json', 'roster']).out).length, 0, 'the phone wiped its data');
    });

    await t.test('logout ends the session; repeated wrong passwords lock the login', async () => {
      await Promise.all([sup.waitForNavigation(), sup.click('#logout')]);
      assert.match(sup.url(), /\/console\/login$/);
      await sup.goto(server.url('/console/overview'));
      assert.match(sup.url(), /\/console\/login$/, 'no session any more');
      let last;
      for (let i = 0; i < 5; i++) {
        await sup.fill('input[name=login]', 'sup-t1');
        await sup.fill('input[name=password]', `wrong-${i}`);
        [last] = await Promise.all([sup.waitForNavigation(), sup.click('#submit')]);
      }
      assert.equal(last.status(), 429);
      await sup.fill('input[name=login]', 'sup-t1');
      await sup.fill('input[name=password]', PASSWORD);
      const [res] = await Promise.all([sup.waitForNavigation(), sup.click('#submit')]);
      assert.equal(res.status(), 429, 'locked even with the right password');
      assert.match(await sup.textContent('#login-error'), /登录失败次数过多/);
    });

    await t.test('the county admin sees the townships worst first', async () => {
      await admin.goto(server.url('/console/overview'));
      const rows = await admin.$$eval('#rows tr[data-place]', (r) => r.map((x) => x.dataset.place));
      assert.deepEqual(rows, ['T1', 'T2'], 'the township with overdue children first');
      assert.equal((await figures(admin)).children, 5);
    });
    await adminCtx.close();
    await supCtx.close();
  });
}
