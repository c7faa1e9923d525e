// A small W3C WebDriver client over fetch: the few commands the tauri-driver test and
// the cold-start benchmark need (new session, find, click, type, run a script,
// screenshot). No npm package: tauri-driver speaks the standard protocol and Node has
// fetch. https://www.w3.org/TR/webdriver2/
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

  async click(css) {
    const el = await this.waitFor(css);
    await this.cmd('POST', `/element/${el}/click`, {});
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

  async screenshot() {
    return Buffer.from(await this.cmd('GET', '/screenshot'), 'base64');
  }

  async quit() {
    await request(this.driver, 'DELETE', `/session/${this.id}`).catch(() => {});
  }
}
