// Active discovery in a real browser (Debian's Chromium via playwright-core) against a
// real sync-server, on SQLite and on PostgreSQL: a county admin uploads a real XLSX
// file (written by SheetJS, a spreadsheet library nobody here wrote) with a title row,
// a merged heading and an ID number saved as a number; previews it, commits it, reads
// the report; a file with unknown headers goes through the mapping step; a real phone
// (fieldctl) of the village receives its task; the confirmation queue confirms one
// child and sends another back; the township supervisor sees only their township's
// tasks; the English switch shows one language. Screenshots: docs/screenshots/
// console-discovery-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import XLSX from 'xlsx';
import { Server, RawDevice, launch, backends, daysAgo, firstLogin, fieldctl, repo } from './harness.mjs';

const ROSTER = `kind,code,name,parent
city,C1,测试市,
county,K0,测试区,C1
township,T1,向阳街道,K0
township,T2,东山街道,K0
village,V11,向阳一村,T1
village,V12,向阳二村,T1
village,V21,东山村,T2
director,dir-v11,儿童主任一村,V11
director,dir-v21,儿童主任东山,V21
supervisor,sup-t2,督导员东山,T2
county_admin,adm-k0,区民政管理员,K0
`;
const PASSWORD = 'correct-horse-battery';
const shots = join(repo, 'docs', 'screenshots');
mkdirSync(shots, { recursive: true });

/** A valid ID number for a birth date (YYYYMMDD) and a sequence. */
function id(birth, seq) {
  const first17 = `370602${birth}${String(seq).padStart(3, '0')}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((s, d, i) => s + Number(d) * w[i], 0);
  return first17 + '10X98765432'[sum % 11];
}

const MOTHER = id('19880101', 12);

/** The county's May list as an office saves it: title row merged over the columns
 * (`bookType` xlsx, or biff8: the old .xls some departments still send). */
function mayXlsx(bookType = 'xlsx') {
  const rows = [
    ['2026年5月重度残疾人护理补贴发放名单', null, null, null, null],
    ['姓名', '身份证号码', '所在村（社区）', '与户主关系', '残疾等级'],
    ['新童甲', id('20180505', 82), '向阳一村', '孙子', '二级'],
    ['新童东', id('20190101', 13), '东山村', '', '一级'],
    ['甲母', MOTHER, '向阳一村', '本人', '一级'],
    ['无村童', id('20170101', 43), '远方村', '', '四级'],
    ['坏号', 370602201403021229, '向阳一村', '', '一级'],
  ];
  const ws = XLSX.utils.aoa_to_sheet(rows);
  ws['!merges'] = [{ s: { r: 0, c: 0 }, e: { r: 0, c: 4 } }];
  const wb = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(wb, ws, '名单');
  return XLSX.write(wb, { type: 'buffer', bookType });
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const text = async (page, sel) => (await page.textContent(sel)).trim();

for (const backend of backends()) {
  test(`active discovery in the console on ${backend}`, { timeout: 300_000 }, async (t) => {
    const server = await Server.start(backend, ROSTER);
    t.after(() => server.stop());
    // The roster's children: 甲童 in 向阳一村 with its mother, 乙童 in 东山村.
    const d11 = new RawDevice(server, server.provision('dir-v11'));
    const a = d11.row('child', 'V11', { name: '甲童', sex: 'male', birth_date: '2014-03-02', id_number: id('20140302', 11), household_registered: true, village_code: 'V11', categories: ['left_behind'], risk_colour: 'green', status: 'active', added_on: daysAgo(10) });
    d11.row('guardian', 'V11', { child_id: a, role: 'mother', name: '甲母', id_number: MOTHER });
    const b = d11.row('child', 'V11', { name: '乙童', sex: 'female', birth_date: '2015-01-01', household_registered: true, village_code: 'V11', categories: ['difficulty'], risk_colour: 'green', status: 'active', added_on: daysAgo(5) });
    const pushed = await d11.push();
    assert.deepEqual(pushed.body.rejected, [], JSON.stringify(pushed.body));

    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', acceptDownloads: true });
    const admin = await ctx.newPage();
    await firstLogin(admin, server, 'adm-k0', server.admin(['login-code', '--account', 'adm-k0']).trim(), PASSWORD);

    await t.test('a real XLSX file goes through preview, commit and report', async () => {
      await admin.goto(server.url('/console/discovery'));
      await admin.selectOption('#kind', 'disability_care');
      await admin.fill('#month', '2026-05');
      await admin.setInputFiles('#file', { name: '2026年5月护理补贴.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: mayXlsx() });
      await admin.screenshot({ path: join(shots, 'console-discovery-import.png'), fullPage: true });
      await Promise.all([admin.waitForNavigation(), admin.click('#preview-button')]);
      const f = async (k) => Number(await text(admin, `#f-${k}`));
      assert.equal(await f('rows'), 5);
      assert.equal(await f('minors'), 3);
      assert.equal(await f('roster'), 1);
      assert.equal(await f('new'), 3, 'two minors with a village, one mother');
      assert.equal(await f('queued'), 1);
      assert.equal(await f('invalid'), 1);
      assert.equal(await f('novillage'), 1);
      const problems = await admin.$$eval('#problems li', (els) => els.map((e) => [Number(e.dataset.line), e.textContent]));
      assert.deepEqual(problems.map((p) => p[0]), [6, 7]);
      assert.match(problems[1][1], /第 7 行：身份证号被表格存成了数字/);
      assert.match(problems[0][1], /第 6 行：未能从“远方村”确定所在村居/);
      // ID numbers are masked on the page.
      assert.doesNotMatch(await admin.content(), new RegExp(id('20180505', 82)));
      await admin.screenshot({ path: join(shots, 'console-discovery-preview.png'), fullPage: true });
      await Promise.all([admin.waitForNavigation(), admin.click('#commit-button')]);
      assert.equal(await text(admin, '#r-new'), '3');
      assert.equal(await text(admin, '#r-queued'), '1');
      await admin.screenshot({ path: join(shots, 'console-discovery-report.png'), fullPage: true });
      // The history shows the month's loop.
      await admin.goto(server.url('/console/discovery'));
      const row = await admin.$$eval('#history tr[data-month="2026-05"] td', (tds) => tds.map((td) => td.textContent.trim()));
      assert.deepEqual(row.slice(2, 12), ['1', '4', '0', '0', '0', '0', '0', '1', '3', '0']);
      // The same file again creates nothing new.
      await admin.selectOption('#kind', 'disability_care');
      await admin.fill('#month', '2026-05');
      await admin.setInputFiles('#file', { name: 'again.xlsx', mimeType: 'application/octet-stream', buffer: mayXlsx() });
      await Promise.all([admin.waitForNavigation(), admin.click('#preview-button')]);
      assert.equal(await f('new'), 0);
      assert.equal(await f('queued'), 0);
      // The same list as an old .xls (BIFF8) reads the same.
      await admin.goto(server.url('/console/discovery'));
      await admin.selectOption('#kind', 'disability_care');
      await admin.fill('#month', '2026-05');
      await admin.setInputFiles('#file', { name: 'old.xls', mimeType: 'application/vnd.ms-excel', buffer: mayXlsx('biff8') });
      await Promise.all([admin.waitForNavigation(), admin.click('#preview-button')]);
      assert.deepEqual(
        [await f('rows'), await f('minors'), await f('roster'), await f('findings'), await f('invalid'), await f('novillage')],
        [5, 3, 1, 4, 1, 1],
      );
      const xlsProblems = await admin.$$eval('#problems li', (els) => els.map((e) => Number(e.dataset.line)));
      assert.deepEqual(xlsProblems, [6, 7]);
    });

    await t.test('the village phone receives its task', async () => {
      const phone = mkdtempSync(join(tmpdir(), 'tonghu-phone-'));
      t.after(() => rmSync(phone, { recursive: true, force: true }));
      const code = server.admin(['enroll-code', '--account', 'dir-v21']).trim();
      assert.equal(fieldctl(phone, ['enroll', '--server', server.base, '--code', code, '--name', 'dongshan']).code, 0);
      assert.equal(fieldctl(phone, ['sync']).code, 0);
      const home = JSON.parse(fieldctl(phone, ['call', 'home', '{}']).out);
      assert.equal(home.tasks.length, 1, JSON.stringify(home.tasks));
      assert.match(home.tasks[0].title, /新童东/);
      assert.equal(home.tasks[0].village, 'V21');
    });

    await t.test('a file with unknown headers is mapped by the person', async () => {
      const csv = '对象名称,编码,地点\r\n新童二,' + id('20200202', 24) + ',向阳二村\r\n';
      await admin.goto(server.url('/console/discovery'));
      await admin.selectOption('#kind', 'dibao_rural');
      await admin.fill('#month', '2026-05');
      await admin.setInputFiles('#file', { name: 'odd.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
      await Promise.all([admin.waitForNavigation(), admin.click('#preview-button')]);
      assert.ok(await admin.$('#mapping-needed'));
      await admin.selectOption('select[data-field="name"]', '0');
      await admin.selectOption('select[data-field="id_number"]', '1');
      await admin.selectOption('select[data-field="village"]', '2');
      await admin.screenshot({ path: join(shots, 'console-discovery-mapping.png'), fullPage: true });
      await Promise.all([admin.waitForNavigation(), admin.click('#mapping-form button[type=submit]')]);
      assert.equal(await text(admin, '#f-new'), '1');
    });

    await t.test('the export is an XLSX with real dates and a Chinese file name', async () => {
      await admin.goto(server.url('/console/discovery'));
      const [download] = await Promise.all([admin.waitForEvent('download'), admin.click('#history tr[data-month="2026-05"] a')]);
      assert.match(download.suggestedFilename(), /^测试区2026年5月主动发现核查结果\.xlsx$/);
      const wb = XLSX.read(await (await download.createReadStream()).toArray().then(Buffer.concat), { cellDates: true });
      const ws = wb.Sheets[wb.SheetNames[0]];
      assert.equal(ws.A1.v, '名单');
      assert.ok(ws.F2.v instanceof Date, 'the day found is a date cell');
      assert.equal(ws.J2.t, 'n', 'days are a number');
    });

    await t.test('the confirmation queue confirms one child and sends another back', async () => {
      await admin.goto(server.url('/console/discovery/confirmations'));
      const rows = await admin.$$eval('#confirmations tr[data-child]', (trs) => trs.map((tr) => tr.dataset.child));
      assert.deepEqual(new Set(rows), new Set([a, b]));
      await admin.fill(`tr[data-child="${a}"] input[name=in_care_since]`, '2026-05-03');
      await Promise.all([admin.waitForNavigation(), admin.click(`tr[data-child="${a}"] button[data-action=confirm]`)]);
      assert.match(await text(admin, '#notice'), /已确认/);
      await admin.fill(`tr[data-child="${b}"] input[name=reason]`, '缺少户籍证明');
      await Promise.all([admin.waitForNavigation(), admin.click(`tr[data-child="${b}"] button[data-action=send-back]`)]);
      assert.match(await text(admin, `tr[data-child="${b}"] td.state`), /县级退回（增员）：缺少户籍证明/);
      assert.equal(await admin.$(`tr[data-child="${a}"]`), null, 'the confirmed child left the queue');
      await admin.screenshot({ path: join(shots, 'console-discovery-confirmations.png'), fullPage: true });
      // A send back without a reason says so.
      await Promise.all([admin.waitForNavigation(), admin.click(`tr[data-child="${b}"] button[data-action=send-back]`)]);
      assert.match(await text(admin, '#error'), /退回时请写明原因/);
    });

    await t.test('the queue and the table of standards', async () => {
      await admin.goto(server.url('/console/discovery/queue'));
      const queued = await admin.$$eval('#queue tr[data-finding] td', (tds) => tds.map((td) => td.textContent.trim()));
      assert.equal(queued[1], '无村童');
      assert.match(queued[2], /^3706\*+043X$/, 'the ID number masked');
      await admin.screenshot({ path: join(shots, 'console-discovery-queue.png'), fullPage: true });
      await admin.goto(server.url('/console/discovery/standards'));
      const rows = await admin.$$eval('#standards tr td', (tds) => tds.map((td) => td.textContent.trim()));
      assert.ok(rows.includes('2503') && rows.includes('1785'), rows.join(' '));
      await admin.selectOption('#standard-form select[name=category]', 'key_difficulty');
      await admin.fill('#standard-form input[name=yuan]', '1850');
      await admin.fill('#standard-form input[name=effective_from]', '2027-01-01');
      await Promise.all([admin.waitForNavigation(), admin.click('#standard-form button[type=submit]')]);
      const after = await admin.$$eval('#standards tr td', (tds) => tds.map((td) => td.textContent.trim()));
      assert.ok(after.includes('1850') && after.includes('2027-01-01'), after.join(' '));
      await admin.screenshot({ path: join(shots, 'console-discovery-standards.png'), fullPage: true });
    });

    await t.test('a township supervisor sees only their township\'s tasks', async () => {
      const supCtx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN' });
      const sup = await supCtx.newPage();
      await firstLogin(sup, server, 'sup-t2', server.admin(['login-code', '--account', 'sup-t2']).trim(), PASSWORD);
      await sup.goto(server.url('/console/discovery/tasks'));
      const villages = await sup.$$eval('h2[data-village]', (hs) => hs.map((h) => h.dataset.village));
      assert.deepEqual(villages, ['东山村']);
      await sup.screenshot({ path: join(shots, 'console-discovery-tasks.png'), fullPage: true });
      const res = await sup.goto(server.url('/console/discovery/queue'));
      assert.equal(res.status(), 403);
      await supCtx.close();
    });

    await t.test('the English switch shows one language', async () => {
      await admin.goto(server.url('/console/discovery'));
      await Promise.all([admin.waitForNavigation(), admin.click('#lang-switch')]);
      assert.equal(await text(admin, 'main h1'), 'Active discovery');
      assert.doesNotMatch(await text(admin, '#history'), /月份|名单/);
      await admin.screenshot({ path: join(shots, 'console-discovery-en.png'), fullPage: true });
      await Promise.all([admin.waitForNavigation(), admin.click('#lang-switch')]);
      assert.equal(await text(admin, 'main h1'), '主动发现');
    });
  });
}
