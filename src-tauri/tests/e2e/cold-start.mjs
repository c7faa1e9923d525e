// Benchmark: cold start of the real Tauri binary to its unlock screen under Xvfb, with
// baselines from the same run (BENCHMARKS.md, "Tauri app: cold start").
//
// A phone enrolled against a real sync-server, PIN set, locked — as the app finds
// itself every morning — is prepared once through the bridge (not timed). Then, each
// run on a fresh copy of that folder:
//   tauri       new tauri-driver session (launches tonghu-app) → the PIN pad shown
//   minibrowser new WebKitWebDriver session of WebKitGTK's MiniBrowser → the same
//               built UI, served by the bridge over the same locked device → the PIN pad
//   blank       new WebKitWebDriver session of MiniBrowser, about:blank → session ready
// Same engine and the same UI: `minibrowser` minus `blank` is the page itself, `tauri`
// minus `minibrowser` what the app adds (its own process start, opening the device,
// the window).
//   xvfb-run -a node src-tauri/tests/e2e/cold-start.mjs [runs]   (scripts/test-tauri.sh --bench)
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { Session, sleep } from './webdriver.mjs';
import {
  syncServer, tauriDriver, appCapabilities, tempDir, cleanup, start, stop, waitHttp, freePort,
  need, BRIDGE, WEBKIT_DRIVER, PIN, APP, ROOT,
} from './harness.mjs';

const RUNS = Number(process.argv[2] ?? 7);
const MINIBROWSER = process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const UNLOCK = '[data-key=ok]';

async function bridgeOn(dir) {
  need(BRIDGE, 'cargo build -p field-bridge');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const proc = start(BRIDGE, ['--data', dir, '--listen', `127.0.0.1:${port}`, '--ui', join(ROOT, 'ui', 'dist')], { RUST_LOG: 'warn' });
  await waitHttp(url, proc);
  const call = async (command, args = {}) => {
    const r = await fetch(`${url}api/${command}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tonghu': '1' }, body: JSON.stringify(args) });
    const body = await r.json();
    if (!r.ok) throw new Error(`${command}: ${JSON.stringify(body)}`);
    return body;
  };
  return { url, proc, call, stop: () => stop(proc) };
}

/** A locked phone of the demo director, its village pulled, production PIN parameters. */
async function lockedPhone(server) {
  const dir = tempDir('locked');
  const b = await bridgeOn(dir);
  await b.call('enroll', { server_url: server.url, code: server.code });
  await b.call('set_pin', { pin: PIN });
  await b.call('sync_now', { wait: true, retries: 2 });
  await b.stop();
  return { dir };
}

async function timed(f) {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { min: s[0], median: med, max: s[s.length - 1] };
}

const server = await syncServer();
const phone = await lockedPhone(server);
const copies = [];
const copy = () => {
  const d = tempDir('run');
  cpSync(phone.dir, d, { recursive: true });
  copies.push(d);
  return d;
};
const results = { tauri: [], minibrowser: [], blank: [] };
const webkitPort = await freePort();
const webkit = start(WEBKIT_DRIVER, [`--port=${webkitPort}`], { WEBKIT_DISABLE_DMABUF_RENDERER: '1' });
const WEBKIT = `http://127.0.0.1:${webkitPort}`;
await waitHttp(`${WEBKIT}/status`, webkit);
const mini = (args = []) => ({
  browserName: 'MiniBrowser',
  'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation', ...args] },
});

try {
  // One untimed round of each warms the page cache, as a phone that ran the app before.
  for (let i = 0; i <= RUNS; i++) {
    // tauri
    {
      const driver = await tauriDriver({ TONGHU_DEVICE_DIR: copy() });
      let s;
      const ms = await timed(async () => {
        s = await Session.start(driver.url, appCapabilities());
        await s.waitFor(UNLOCK, 60_000);
      });
      await s.quit();
      await driver.stop();
      if (i > 0) results.tauri.push(ms);
    }
    // minibrowser: the same UI over the same kind of locked device, in a browser
    {
      const b = await bridgeOn(copy());
      let s;
      const ms = await timed(async () => {
        s = await Session.start(WEBKIT, mini());
        await s.cmd('POST', '/url', { url: b.url });
        await s.waitFor(UNLOCK, 60_000);
      });
      await s.quit();
      await b.stop();
      if (i > 0) results.minibrowser.push(ms);
    }
    // blank: the engine's own start
    {
      let s;
      const ms = await timed(async () => {
        s = await Session.start(WEBKIT, mini());
        await s.cmd('POST', '/url', { url: 'about:blank' });
      });
      await s.quit();
      if (i > 0) results.blank.push(ms);
    }
    await sleep(300);
  }
} finally {
  await stop(webkit);
  await server.stop();
  cleanup(phone.dir, server.data, ...copies);
}

console.log(`cold start to the unlock screen, ${RUNS} runs each (ms), binary ${APP}`);
console.log('what                                   min   median      max');
const label = {
  tauri: 'tonghu-app (tauri-driver) → PIN pad',
  minibrowser: 'MiniBrowser + bridge → PIN pad',
  blank: 'MiniBrowser → about:blank',
};
for (const [k, xs] of Object.entries(results)) {
  const { min, median, max } = stats(xs);
  console.log(`${label[k].padEnd(36)} ${min.toFixed(0).padStart(6)} ${median.toFixed(0).padStart(8)} ${max.toFixed(0).padStart(8)}`);
}
console.log(JSON.stringify({ runs: RUNS, ms: results }));
