// The real things the browser tests run against: a sync-server on loopback with the
// demo city, and the device core through the bridge (the same commands the Tauri app
// invokes, over HTTP), serving the built UI. Binaries come from the workspace's
// target/debug (build them with `cargo build -p sync-server -p field-bridge`);
// TONGHU_SYNC_SERVER_BIN and TONGHU_BRIDGE_BIN override the paths.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));
export const UI = resolve(here, '..', '..');
export const ROOT = resolve(UI, '..');
const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
export const SYNC_SERVER = process.env.TONGHU_SYNC_SERVER_BIN ?? join(target, 'debug', 'sync-server');
export const BRIDGE = process.env.TONGHU_BRIDGE_BIN ?? join(target, 'debug', 'field-bridge');
export const DIST = join(UI, 'dist');
export const SCREENSHOTS = join(ROOT, 'docs', 'screenshots');

export function tempDir(name) {
  return mkdtempSync(join(tmpdir(), `tonghu-ui-${name}-`));
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

async function waitHttp(url, ms = 20_000, proc) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    if (proc && proc.exitCode !== null) throw new Error(`${url}: process exited ${proc.exitCode}\n${proc.log()}`);
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer in ${ms} ms: ${last}\n${proc?.log?.() ?? ''}`);
}

function start(bin, args, env = {}) {
  const p = spawn(bin, args, { env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out = (out + d).slice(-20_000)));
  p.stderr.on('data', (d) => (out = (out + d).slice(-20_000)));
  p.log = () => out;
  return p;
}

async function stop(p, signal = 'SIGTERM') {
  if (!p || p.exitCode !== null || p.signalCode) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

/** A sync-server with the demo city seeded; `stop()` and `start()` keep its data.
 *  `env` is the server's extra environment (e.g. TONGHU_LATEST_APP_VERSION). */
export async function syncServer({ data, env = {} } = {}) {
  if (!existsSync(SYNC_SERVER)) throw new Error(`${SYNC_SERVER} missing: cargo build -p sync-server`);
  // A given data folder that already holds a seeded server is reused (bench/ --keep).
  const reuse = data && existsSync(join(data, 'seeded'));
  data ??= tempDir('server');
  mkdirSync(data, { recursive: true });
  // The seed's output is kept beside the data, so a reused server still names its
  // director (its one-time code may be spent: issueCode() gives another).
  const seed = reuse
    ? readFileSync(join(data, 'seeded'), 'utf8')
    : execFileSync(SYNC_SERVER, ['admin', '--data', data, 'seed-demo'], { encoding: 'utf8' });
  if (!reuse) writeFileSync(join(data, 'seeded'), seed);
  const code = /director\s+(\S+)\s+enrollment code\s+(\S+)/.exec(seed);
  if (!code) throw new Error(`no director code in seed-demo output:\n${seed}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = {
    url,
    data,
    login: code[1],
    code: code[2],
    proc: null,
    /** Another one-time code for an account (a second phone, a re-enrollment). */
    issueCode(account = code[1]) {
      return execFileSync(SYNC_SERVER, ['admin', '--data', data, 'enroll-code', '--account', account], { encoding: 'utf8' }).trim();
    },
    /** The county moves a director to other villages (a roster import, as an admin
     *  does it); phones learn it at their next sync. */
    moveDirector(login, village, demo = true) {
      const csv = demo
        ? `kind,code,name,parent\ncity,3706,演示市,\ncounty,370602,演示区,3706\ntownship,${village.slice(0, 9)},街道,370602\nvillage,${village},演示村,${village.slice(0, 9)}\ndirector,${login},儿童主任,${village}\n`
        : `kind,code,name,parent\ndirector,${login},儿童主任,${village}\n`;
      const file = join(data, 'move.csv');
      writeFileSync(file, csv);
      execFileSync(SYNC_SERVER, ['admin', '--data', data, 'import', '--file', file], { encoding: 'utf8' });
    },
    /** The county imports a month's allowance list (CSV text) with the server's own
     *  CLI, as its admin; the CLI's report. */
    importList(kind, month, csv, account = 'admin-370602') {
      const file = join(data, `list-${kind}-${month}.csv`);
      writeFileSync(file, csv);
      const out = execFileSync(SYNC_SERVER, ['admin', '--data', data, 'import-list', '--account', account,
        '--kind', kind, '--month', month, '--file', file], { encoding: 'utf8' });
      rmSync(file, { force: true });
      return out;
    },
    async start() {
      this.proc = start(SYNC_SERVER, ['serve', '--data', data, '--listen', `127.0.0.1:${port}`], env);
      await waitHttp(`${url}/`, 20_000, this.proc);
    },
    async stop() {
      await stop(this.proc);
      this.proc = null;
    },
  };
  await server.start();
  return server;
}

/** The device core through the bridge, serving the built UI. Its data folder survives
 *  `kill()` and `start()`: the phone's storage across a killed app. */
export async function bridge({ data = tempDir('device'), env = {}, args: extraArgs = [] } = {}) {
  if (!existsSync(BRIDGE)) throw new Error(`${BRIDGE} missing: cargo build -p field-bridge`);
  if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST} missing: npm run build`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const b = {
    url,
    data,
    proc: null,
    async start() {
      // Cheap PIN key derivation and a short probe back-off keep the tests quick (the
      // production parameters are measured in BENCHMARKS.md); a sync soon after a save.
      this.proc = start(BRIDGE, ['--data', data, '--listen', `127.0.0.1:${port}`, '--ui', DIST,
        '--insecure-fast-kdf', '--probe-base-ms', '500', '--probe-cap-ms', '3000', '--after-save-ms', '500', ...extraArgs], env);
      await waitHttp(`${url}`, 30_000, this.proc);
    },
    /** SIGKILL: the app killed by the phone, no chance to clean up. */
    async kill() {
      await stop(this.proc, 'SIGKILL');
      this.proc = null;
    },
    async stop() {
      await stop(this.proc);
      this.proc = null;
    },
    /** Calls a device command directly (to set up a situation, never to check the UI). */
    async call(command, args = {}) {
      const r = await fetch(`${url}api/${command}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tonghu': '1' }, body: JSON.stringify(args) });
      const body = await r.json().catch(() => null);
      if (!r.ok) throw Object.assign(new Error(`${command}: ${r.status} ${JSON.stringify(body)}`), { body, status: r.status });
      return body;
    },
  };
  await b.start();
  return b;
}

export function screenshotPath(name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, `app-${name}.png`);
}

export function cleanup(...dirs) {
  for (const d of dirs) if (d) rmSync(d, { recursive: true, force: true });
}

/** A slow link between the phone and the server (a village's 2G): a TCP proxy on
 *  loopback whose upload rate can be turned down while a test watches a sync move.
 *  The server behind it may stop and start; the phone only ever sees `url`. */
export async function slowLink(server) {
  const target = new URL(server.url);
  let rate = Infinity; // bytes per second, device → server
  const sockets = new Set();
  // Sends `buf` to `to` no faster than `rate`, in slices, keeping the order.
  const pace = (from, to) => {
    let queue = Promise.resolve();
    from.on('data', (buf) => {
      from.pause();
      queue = queue.then(async () => {
        for (let i = 0; i < buf.length; ) {
          const n = rate === Infinity ? buf.length : Math.max(512, Math.floor(rate / 20));
          if (!to.destroyed) to.write(buf.subarray(i, i + n));
          i += n;
          if (rate !== Infinity) await new Promise((r) => setTimeout(r, 50));
        }
        from.resume();
      });
    });
  };
  const proxy = net.createServer((client) => {
    const up = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(up);
    const close = () => { client.destroy(); up.destroy(); sockets.delete(client); sockets.delete(up); };
    client.on('error', close).on('close', close);
    up.on('error', close).on('close', close);
    pace(client, up);
    up.pipe(client);
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${proxy.address().port}`,
    code: server.code,
    login: server.login,
    /** Upload bytes per second from now on (Infinity: as fast as loopback). */
    setRate(bps) { rate = bps; },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => proxy.close(r));
    },
  };
}
