// Draft and sign a care agreement: the full canonical text, a finger signature per
// signer (drawn with the mouse; an empty one refused; kept across a rotation), the
// locked signed version that refuses an edit, and its PDF.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, phone } from './browser.mjs';
import { bridge, syncServer, cleanup } from './harness.mjs';
import { enroll, waitForRoster, drawSignature, shot } from './steps.mjs';

let server, device, browser, signed;
const tmp = mkdtempSync(join(tmpdir(), 'tonghu-ui-pdf-'));
after(async () => {
  await browser?.close();
  await device?.stop();
  await server?.stop();
  cleanup(server?.data, device?.data, tmp);
});

const iso = (d) => d.toISOString().slice(0, 10);

test('a care agreement drafted, read, signed by finger, then locked', { timeout: 240_000 }, async () => {
  server = await syncServer();
  device = await bridge();
  browser = await launch();
  const ctx = await phone(browser);
  // Dark pixels on the signature canvas: the strokes as the signer sees them.
  await ctx.addInitScript(() => {
    window.inkPixels = () => {
      const c = document.querySelector('[data-testid=signature-canvas]');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 128 && d[i + 3] > 0) n++;
      return n;
    };
    // Where the ink is, as fractions of the box: [left, top, right, bottom].
    window.inkBox = () => {
      const c = document.querySelector('[data-testid=signature-canvas]');
      const { width: w, height: h } = c;
      const d = c.getContext('2d').getImageData(0, 0, w, h).data;
      let [l, t, r, b] = [w, h, -1, -1];
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        if (d[i] < 128 && d[i + 3] > 0) { l = Math.min(l, x); r = Math.max(r, x); t = Math.min(t, y); b = Math.max(b, y); }
      }
      return [l / w, t / h, r / w, b / h];
    };
  });
  const page = await ctx.newPage();
  await page.goto(device.url);
  await enroll(page, server);
  await waitForRoster(page);
  await page.locator('[data-testid=child-row]').first().tap();
  await page.waitForSelector('[data-testid=new-agreement]');
  await page.locator('[data-testid=new-agreement]').tap();
  await page.waitForSelector('[data-path="principal.name"]');

  const fill = (path, v) => page.fill(`[data-path="${path}"]`, v);
  await fill('principal.name', '王大军');
  await page.locator('[data-testid=principal-relation] [data-code=father]').tap();
  await fill('principal.phone', '13800138000');
  await fill('principal.work_location', '青岛市城阳区某电子厂');
  await fill('caregiver.name', '张秀英');
  await fill('caregiver.relationship', '祖母');
  await fill('caregiver.health', '身体健康');
  await fill('caregiver.address', '演示村 12 号');
  await fill('caregiver.phone', '13900139000');
  await fill('child.birth_date', '2016-03-01');
  await fill('reason', '父母外出务工');
  const today = new Date();
  await fill('period_start', iso(today));
  await fill('period_end', iso(new Date(today.getTime() + 365 * 86400_000)));
  await page.locator('[data-testid=add-contact]').tap();
  await fill('emergency_contacts.0.name', '王二叔');
  await fill('emergency_contacts.0.phone', '13700137000');
  await fill('witness.child_director', '刘主任');
  await page.locator('[data-path=weekly_contact_promise]').check();
  await page.locator('[data-path=caregiver_declaration]').check();
  await fill('child_view', '愿意和奶奶一起住');
  await page.waitForFunction(() => document.querySelector('[data-testid=ag-draft-state]')?.getAttribute('data-status') === 'saved');
  await shot(page, 'agreement-draft');

  await page.locator('[data-testid=ag-preview]').tap();
  await page.waitForSelector('[data-testid=ag-text]');
  const textShown = await page.locator('[data-testid=ag-text]').textContent();
  for (const s of ['委托', '张秀英', '王大军']) assert.ok(textShown.includes(s), `the text names ${s}`);
  // The fingerprint is not shown to the family (it is in the printed copy).
  assert.doesNotMatch(await page.textContent('[data-testid=agreement]'), /SHA-256|[0-9a-f]{32}/);
  const draftId = decodeURIComponent(page.url().split('/').pop());
  const hash = (await device.call('agreement_preview', { draft_id: draftId })).sha256;
  assert.match(hash, /^[0-9a-f]{64}$/);
  await shot(page, 'agreement-text');

  await page.locator('[data-testid=ag-sign]').tap();
  let signers = 0;
  while (await page.locator('[data-testid=signature-step]').count()) {
    signers++;
    const step = await page.locator('[data-testid=signature-step] .step').textContent();
    if (signers === 1) {
      // An empty signature is refused.
      await page.locator('[data-testid=signature-confirm]').tap();
      await page.waitForSelector('[data-testid=signature-error]');
      await shot(page, 'signature-empty');
    }
    if (!(await page.inputValue('[data-testid=signer-name]'))) await page.fill('[data-testid=signer-name]', `签名人${signers}`);
    await drawSignature(page, signers);
    if (signers === 1) {
      // A rotation keeps the strokes (they are redrawn into the new box).
      const inkBefore = await page.evaluate(() => inkPixels());
      await page.setViewportSize({ width: 640, height: 360 });
      await page.waitForTimeout(300);
      await shot(page, 'signature-landscape');
      await page.setViewportSize({ width: 360, height: 640 });
      await page.waitForTimeout(300);
      const inkAfter = await page.evaluate(() => inkPixels());
      assert.ok(inkBefore > 50 && inkAfter > inkBefore * 0.4, `strokes survive rotation: ${inkBefore} → ${inkAfter}`);
      // And they are where the finger drew them (15 %–85 % of the width), not stretched
      // out of the box by the refusal's notice or the turn.
      const [l, , r] = await page.evaluate(() => inkBox());
      assert.ok(l > 0.08 && l < 0.25 && r > 0.75 && r < 0.92, `ink spans ${l.toFixed(2)}–${r.toFixed(2)} of the box`);
      await shot(page, 'signature');
    }
    await page.locator('[data-testid=signature-confirm]').tap();
    await page.waitForFunction((prev) => !document.querySelector('[data-testid=signature-step] .step') || document.querySelector('[data-testid=signature-step] .step').textContent !== prev, step);
  }
  assert.ok(signers >= 2, `at least the caregiver and the witness signed (${signers})`);

  await page.waitForSelector('[data-testid=ag-locked]', { timeout: 30_000 });
  const versionId = decodeURIComponent(page.url().split('/').pop());
  const version = await device.call('agreement', { version_id: versionId });
  assert.equal(version.version.text_sha256, hash, 'signed with the hash of the text that was read');
  await shot(page, 'agreement-signed');

  // Locked: no button offers to change its clauses, and the core refuses an edit.
  assert.equal(await page.locator('[data-testid=ag-try-edit]').count(), 0);
  const childId = decodeURIComponent(page.url().split('/').at(-3));
  const file = await device.call('child_file', { child_id: childId });
  const draft = file.agreement_drafts.find((d) => d.draft_id === version.version.draft_id);
  const refused = await device.call('save_agreement_draft', { child_id: childId, draft_id: draft.draft_id, terms: draft.terms }).then(() => null, (e) => e.body);
  assert.ok(refused && /[\u4e00-\u9fff]/.test(refused.zh), `the core refuses, in Chinese: ${JSON.stringify(refused)}`);
  signed = { hash, text: await page.locator('[data-testid=ag-signed-text]').textContent() };
});

test('the signed agreement opens as a PDF for the family, and saves', { timeout: 90_000 }, async () => {
  assert.ok(signed, 'the agreement was signed by the test before');
  const ctx = browser.contexts()[0];
  const page = ctx.pages()[0];
  // "Open / print": the PDF made in Rust opens in the browser's viewer (print from there).
  const popup = ctx.waitForEvent('page', { timeout: 60_000 });
  await page.locator('[data-testid=open-pdf]').tap();
  const viewer = await popup;
  assert.match(viewer.url(), /^blob:/, `the PDF opened from the phone's own bytes: ${viewer.url()}`);
  await viewer.close();

  // "Save": the link downloads the same file, named for the family.
  const link = page.locator('[data-testid=pdf-link]');
  await link.waitFor();
  const download = page.waitForEvent('download', { timeout: 30_000 });
  await link.tap();
  const file = await download;
  assert.match(file.suggestedFilename(), /\.pdf$/);
  const saved = join(tmp, file.suggestedFilename().replace(/[^\w.\u4e00-\u9fff-]/g, '_'));
  await file.saveAs(saved);
  const bytes = readFileSync(saved);
  assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');

  // What is printed: the canonical clauses, the parties, and the hash that was signed.
  const text = execFileSync('pdftotext', ['-layout', saved, '-'], { encoding: 'utf8' });
  const flat = text.replace(/\s+/g, '');
  for (const s of ['委托照护', '王大军', '张秀英', '刘主任']) assert.ok(flat.includes(s), `the PDF names ${s}`);
  assert.ok(flat.includes(signed.hash), `the PDF carries the SHA-256 ${signed.hash}`);
  // A clause of the canonical text, exactly as the screen showed it.
  const clause = signed.text.split('\n').map((l) => l.replace(/\s+/g, '')).filter((l) => l.length >= 12 && /[\u4e00-\u9fff]/.test(l))[3];
  assert.ok(clause && flat.includes(clause), `the PDF holds the clause «${clause}»`);
});
