// What the tauri-driver test and the cold-start benchmark run against: a real
// sync-server with the demo city on loopback, tauri-driver in front of Debian's
// WebKitWebDriver, and the real Tauri binary, each on a free port with its own data
// folder. Binaries come from target/debug unless TONGHU_APP_BIN,
// TONGHU_SYNC_SERVER_BIN, TONGHU_BRIDGE_BIN or TAURI_DRIVER say otherwise; run it
// under a display (scripts/test-tauri.sh uses xvfb-run).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { sleep } from './webdriver.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '..', '..', '..');
const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
const profile = process.env.TONGHU_PROFILE ?? 'debug';
export const APP = process.env.TONGHU_APP_BIN ?? join(target, profile, 'tonghu-app');
export const SYNC_SERVER = process.env.TONGHU_SYNC_SERVER_BIN ?? join(target, 'debug', 'sync-server');
export const BRIDGE = process.env.TONGHU_BRIDGE_BIN ?? join(target, 'debug', 'field-bridge');
export const TAURI_DRIVER = process.env.TAURI_DRIVER ?? join(process.env.CARGO_HOME ?? join(homedir(), '.cargo'), 'bin', 'tauri-driver');
export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver';
export const SCREENSHOTS = join(ROOT, 'docs', 'screenshots');
export const PIN = '428613';

export function tempDir(name) {
  return mkdtempSync(join(tmpdir(), `tonghu-tauri-${name}-`));
}

export function need(path, how) {
  if (!existsSync(path)) throw new Error(`${path} missing: ${how}`);
}

export async function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

export function start(bin, args, env = {}) {
  const p = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out = (out + d).slice(-20_000)));
  p.stderr.on('data', (d) => (out = (out + d).slice(-20_000)));
  p.log = () => out;
  return p;
}

export async function stop(p) {
  if (!p || p.exitCode !== null || p.signalCode) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

export async function waitHttp(url, proc, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    if (proc && proc.exitCode !== null) throw new Error(`${url}: process exited ${proc.exitCode}\n${proc.log()}`);
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > until) throw new Error(`${url} did not answer in ${ms} ms\n${proc?.log?.() ?? ''}`);
    await sleep(50);
  }
}

/** The sync server with the demo city; `code` enrolls the demo director's phone. */
export async function syncServer() {
  need(SYNC_SERVER, 'cargo build -p sync-server');
  const data = tempDir('server');
  const seed = execFileSync(SYNC_SERVER, ['admin', '--data', data, 'seed-demo'], { encoding: 'utf8' });
  const m = /director\s+(\S+)\s+enrollment code\s+(\S+)/.exec(seed);
  if (!m) throw new Error(`no director code in seed-demo output:\n${seed}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = start(SYNC_SERVER, ['serve', '--data', data, '--listen', `127.0.0.1:${port}`], { RUST_LOG: 'warn' });
  await waitHttp(`${url}/healthz`, proc);
  return {
    url,
    data,
    login: m[1],
    code: m[2],
    proc,
    issueCode() {
      return execFileSync(SYNC_SERVER, ['admin', '--data', data, 'enroll-code', '--account', m[1]], { encoding: 'utf8' })
        .trim()
        .split(/\s+/)
        .pop();
    },
    async stop() {
      await stop(proc);
    },
  };
}

/** tauri-driver on a free port, in front of WebKitWebDriver; every session it opens
 *  launches the app with `env` (TONGHU_DEVICE_DIR: the phone's data folder). */
export async function tauriDriver(env = {}) {
  need(TAURI_DRIVER, 'cargo install tauri-driver --locked');
  need(WEBKIT_DRIVER, 'apt-get install webkit2gtk-driver');
  const port = await freePort();
  const native = await freePort();
  const proc = start(TAURI_DRIVER, ['--port', String(port), '--native-port', String(native), '--native-driver', WEBKIT_DRIVER], {
    // A blank window under Xvfb without it (WebKitGTK's DMA-BUF renderer needs a GPU).
    WEBKIT_DISABLE_DMABUF_RENDERER: '1',
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/status`, proc);
  return { url, proc, stop: () => stop(proc) };
}

/** The capabilities that make tauri-driver launch the real app binary. */
export function appCapabilities() {
  need(APP, `cargo build -p tonghu-app (with ui/dist built first)`);
  return { 'tauri:options': { application: APP } };
}

export function screenshotPath(name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, `${name}.png`);
}

export function cleanup(...dirs) {
  for (const d of dirs) if (d) rmSync(d, { recursive: true, force: true });
}
