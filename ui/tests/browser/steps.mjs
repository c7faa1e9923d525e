// What a director does on the screen, as reusable steps: taps (counted), typing, a
// finger signature drawn with the mouse. Every step goes through the UI; nothing here
// calls the core directly.
import assert from 'node:assert/strict';
import { screenshotPath } from './harness.mjs';

export const PIN = '428613';

/** Counts every tap a test makes, so "at most 12 taps" is measured, not assumed. */
export class Taps {
  constructor(page) {
    this.page = page;
    this.count = 0;
    this.log = [];
  }
  async tap(selector) {
    const el = this.page.locator(selector).first();
    await el.waitFor({ state: 'visible' });
    await el.scrollIntoViewIfNeeded();
    await el.tap();
    this.count++;
    this.log.push(selector);
  }
}

export async function tapKeys(page, digits) {
  for (const d of digits) await page.locator(`[data-key="${d}"]`).tap();
}

export async function enroll(page, server, { pin = PIN } = {}) {
  await page.waitForSelector('[data-testid=enroll-form]');
  await page.fill('input[name=server_url]', server.url);
  await page.fill('input[name=code]', server.code);
  await page.locator('[data-testid=enroll-form] button[type=submit]').tap();
  await page.waitForSelector('[data-testid=pin-prompt]');
  await tapKeys(page, pin);
  await page.locator('[data-key=ok]').tap();
  await page.waitForFunction(() => document.querySelector('[data-testid=pin-dots]')?.getAttribute('data-n') === '0');
  await tapKeys(page, pin);
  await page.locator('[data-key=ok]').tap();
  await page.waitForSelector('[data-testid=home]');
}

export async function unlock(page, pin = PIN) {
  await page.waitForSelector('[data-key=ok]');
  await tapKeys(page, pin);
  await page.locator('[data-key=ok]').tap();
  await page.waitForSelector('[data-key=ok]', { state: 'detached' });
}

/** Taps "save visit" and waits for the saved confirmation; a refusal by the core fails
 *  with the core's own sentence. */
export async function saveVisit(page) {
  await page.locator('[data-testid=save-visit]').tap();
  try {
    await page.waitForSelector('[data-testid=visit-saved]', { timeout: 15_000 });
  } catch (e) {
    const refused = page.locator('[data-testid=visit-form] [role=alert]');
    if (await refused.count()) throw new Error(`the core refused the visit: ${await refused.first().textContent()}`);
    throw e;
  }
}

/** Waits until the home screen lists children (the first sync pulled the roster). */
export async function waitForRoster(page, ms = 60_000) {
  await page.waitForSelector('[data-testid=child-row]', { timeout: ms });
}

/** Draws a signature-like scribble with the mouse inside the signature box. */
export async function drawSignature(page, seed = 0) {
  const canvas = page.locator('[data-testid=signature-canvas]');
  const box = await canvas.boundingBox();
  assert.ok(box && box.width > 100 && box.height > 100, `signature box too small: ${JSON.stringify(box)}`);
  const x0 = box.x + box.width * 0.15;
  const y0 = box.y + box.height * 0.55;
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (let i = 1; i <= 24; i++) {
    const x = x0 + (box.width * 0.7 * i) / 24;
    const y = y0 + Math.sin(i / 2 + seed) * box.height * 0.18;
    await page.mouse.move(x, y, { steps: 2 });
  }
  await page.mouse.up();
  await page.mouse.move(x0 + 20, y0 - 30);
  await page.mouse.down();
  await page.mouse.move(x0 + 40, y0 + 30, { steps: 6 });
  await page.mouse.up();
}

/** Saves docs/screenshots/app-<name>.png: what the phone shows, or with `full` the
 *  whole page (a long screen, looked at in one picture). */
export async function shot(page, name, { full = false } = {}) {
  await page.evaluate(() => document.fonts?.ready);
  await page.screenshot({ path: screenshotPath(name), fullPage: full });
}

/** A real image file's bytes for the camera input: a PNG of the current screen. */
export async function photoBytes(page) {
  return page.screenshot({ type: 'png', clip: { x: 0, y: 0, width: 320, height: 240 } });
}

export async function text(page, selector) {
  return (await page.locator(selector).first().textContent())?.trim() ?? '';
}

/** A photo that compresses badly (colour noise), so it takes real bytes to send:
 *  a PNG made in the page, `w`×`h`, different for every `seed`. */
export async function noisyPhoto(page, w = 640, h = 480, seed = 1) {
  const b64 = await page.evaluate(({ w, h, seed }) => {
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    const g = c.getContext('2d');
    const img = g.createImageData(w, h);
    let x = seed * 2654435761 >>> 0;
    for (let i = 0; i < img.data.length; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      img.data[i] = (i & 3) === 3 ? 255 : x & 255;
    }
    g.putImageData(img, 0, 0);
    return c.toDataURL('image/png').split(',')[1];
  }, { w, h, seed });
  return Buffer.from(b64, 'base64');
}
