// A small W3C WebDriver client over fetch: the few commands the tauri-driver test and
// the cold-start benchmark need (new session, find, click, type, run a script,
// screenshot). No npm package: tauri-driver speaks the standard protocol and Node has
// fetch. https://www.w3.org/TR/webdriver2/
import { spawnSync } from 'node:child_process';

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriverError extends Error {
  constructor(method, path, status, value) {
    super(`${method} ${path}: ${status} ${value?.error ?? ''} ${value?.message ?? JSON.stringify(value)}`);
    this.status = status;
    this.code = value?.error;
  }
}

async function request(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new WebDriverError(method, path, res.status, json.value);
  return json.value;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Session {
  /** Opens a session: with tauri-driver, this launches the app binary. */
  static async start(driver, alwaysMatch) {
    const value = await request(driver, 'POST', '/session', { capabilities: { alwaysMatch } });
    return new Session(driver, value.sessionId);
  }

  constructor(driver, id) {
    this.driver = driver;
    this.id = id;
  }

  cmd(method, path, body) {
    return request(this.driver, method, `/session/${this.id}${path}`, body);
  }

  /** The first element matching `css`, or null. */
  async find(css) {
    try {
      const v = await this.cmd('POST', '/element', { using: 'css selector', value: css });
      return v[ELEMENT];
    } catch (e) {
      if (e.code === 'no such element') return null;
      throw e;
    }
  }

  async findAll(css) {
    const v = await this.cmd('POST', '/elements', { using: 'css selector', value: css });
    return v.map((e) => e[ELEMENT]);
  }

  /** Waits until `css` matches a displayed element and returns it. */
  async waitFor(css, ms = 30_000) {
    const until = Date.now() + ms;
    for (;;) {
      const el = await this.find(css);
      if (el && (await this.cmd('GET', `/element/${el}/displayed`).catch(() => false))) return el;
      if (Date.now() > until) {
        const shown = await this.text('body').catch(() => '?');
        throw new Error(`${css} not shown within ${ms} ms; the page says: ${shown.slice(0, 600)}`);
      }
      await sleep(50);
    }
  }

  /** Waits until a script returns something truthy, and returns it. */
  async waitUntil(script, ms = 30_000, what = script) {
    const until = Date.now() + ms;
    for (;;) {
      const v = await this.execute(script);
      if (v) return v;
      if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}`);
      await sleep(100);
    }
  }

  /** Clicks `css` as a finger would: brought to the middle of the screen first (WebDriver
   *  scrolls a target only to the bottom edge, under the screen's sticky bars), and
   *  tried again while something (a transition, a toast) still covers it. */
  async click(css) {
    const until = Date.now() + 5_000;
    for (;;) {
      const el = await this.waitFor(css);
      await this.execute(`arguments[0].scrollIntoView({ block: 'center', inline: 'nearest' })`, [{ [ELEMENT]: el }]);
      try {
        await this.cmd('POST', `/element/${el}/click`, {});
        return;
      } catch (e) {
        if (e.code !== 'element click intercepted' || Date.now() > until) {
          if (e.code === 'element click intercepted') {
            const over = await this.execute(
              `const r = arguments[0].getBoundingClientRect();
               const o = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
               return o ? o.outerHTML.slice(0, 200) : null;`,
              [{ [ELEMENT]: el }],
            ).catch(() => null);
            e.message += ` (${css} is covered by ${over})`;
          }
          throw e;
        }
        await sleep(100);
      }
    }
  }

  async type(css, text) {
    const el = await this.waitFor(css);
    await this.cmd('POST', `/element/${el}/clear`, {});
    await this.cmd('POST', `/element/${el}/value`, { text });
  }

  async text(css) {
    const el = await this.find(css);
    return el ? this.cmd('GET', `/element/${el}/text`) : '';
  }

  execute(script, args = []) {
    return this.cmd('POST', '/execute/sync', { script, args });
  }

  /** Runs an async function body; its last argument is the callback with the answer. */
  executeAsync(script, args = []) {
    return this.cmd('POST', '/execute/async', { script, args });
  }

  /** The window as it is on the X display (ImageMagick's `import`, cropped to the
   *  window's rectangle). WebKitWebDriver's own screenshot command (2.50 under Xvfb)
   *  never answers, so the pixels are read from the display the app draws on. */
  async screenshot() {
    const r = await this.cmd('GET', '/window/rect');
    const crop = `${Math.round(r.width)}x${Math.round(r.height)}+${Math.max(0, Math.round(r.x))}+${Math.max(0, Math.round(r.y))}`;
    const out = spawnSync('import', ['-window', 'root', '-crop', crop, '+repage', 'png:-'], {
      maxBuffer: 64 << 20,
      timeout: 20_000,
    });
    if (out.status !== 0) throw new Error(`import (ImageMagick) failed: ${out.error ?? out.stderr}`);
    return out.stdout;
  }

  async quit() {
    await request(this.driver, 'DELETE', `/session/${this.id}`).catch(() => {});
  }
}
