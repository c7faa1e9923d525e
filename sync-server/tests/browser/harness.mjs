// The harness of the console's browser tests: a real sync-server process on a random
// loopback port over a fresh SQLite folder or a fresh PostgreSQL database, Debian's
// Chromium through playwright-core (never a downloaded browser), the admin CLI, a real
// device (fieldctl), and raw sync-API pushes for records with known dates.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../../..');
const target = process.env.CARGO_TARGET_DIR || join(repo, 'target');
export const serverBin = process.env.TONGHU_SERVER_BIN || join(target, 'debug', 'sync-server');
export const fieldctlBin = process.env.TONGHU_FIELDCTL_BIN || join(target, 'debug', 'fieldctl');

/** The backends to run on: SQLite always; PostgreSQL when TONGHU_TEST_DATABASE_URL is set (required with CI=true). */
export function backends() {
  const out = ['sqlite'];
  if (process.env.TONGHU_TEST_DATABASE_URL) out.push('postgres');
  else if (process.env.CI === 'true') throw new Error('CI=true but TONGHU_TEST_DATABASE_URL is unset');
  return out;
}

function freshPostgres() {
  const admin = process.env.TONGHU_TEST_DATABASE_URL;
  const name = `tonghu_b_${Date.now()}_${randomBytes(3).toString('hex')}`;
  execFileSync('psql', [admin, '-q', '-c', `CREATE DATABASE ${name}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A running server with its storage flags, the admin CLI and a teardown. */
export class Server {
  static async start(backend, rosterCsv) {
    const dir = mkdtempSync(join(tmpdir(), 'tonghu-browser-'));
    const storage = backend === 'postgres' ? ['--database-url', freshPostgres()] : ['--data', join(dir, 'server')];
    const s = new Server(dir, storage, backend);
    if (rosterCsv) {
      const f = join(dir, 'roster.csv');
      writeFileSync(f, rosterCsv);
      s.admin(['import', '--file', f]);
    }
    const proc = spawn(serverBin, ['serve', ...storage, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: 'warn' },
    });
    s.proc = proc;
    s.base = await new Promise((ok, fail) => {
      let err = '';
      const timer = setTimeout(() => fail(new Error(`server did not start: ${err}`)), 30000);
      proc.stderr.on('data', (b) => {
        err += b.toString();
        const m = err.match(/supervisor console: (http:\/\/[0-9.:]+)\/console/);
        if (m) { clearTimeout(timer); ok(m[1]); }
      });
      proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`server exited ${code}: ${err}`)); });
    });
    proc.stdout.resume();
    return s;
  }
  constructor(dir, storage, backend) { this.dir = dir; this.storage = storage; this.backend = backend; }
  /** Runs `sync-server admin …` on the same storage; returns standard output. */
  admin(args) {
    return execFileSync(serverBin, ['admin', ...this.storage, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }
  /** A device set up for `login` without a code: { device_id, token, … }. */
  provision(login) {
    return JSON.parse(this.admin(['provision', '--account', login]).trim().split('\n')[0]);
  }
  url(path) { return this.base + path; }
  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      await new Promise((r) => this.proc.once('exit', r));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Debian's Chromium, headless, with nothing phoning home. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.TONGHU_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A device's write stamp: 48-bit ms and a 16-bit counter, as 16 hex digits. */
export function hlc(ms, counter) {
  return ms.toString(16).padStart(12, '0') + counter.toString(16).padStart(4, '0');
}

/** A UUIDv7. */
export function uuid7() {
  const b = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The day `n` days before today in China (UTC+8), YYYY-MM-DD (negative: ahead). */
export function daysAgo(n) {
  return new Date(Date.now() + 8 * 3600e3 - n * 86400e3).toISOString().slice(0, 10);
}

/** A director's device that writes rows through the sync API (one device write per row). */
export class RawDevice {
  constructor(server, provisioned) {
    this.server = server;
    this.id = provisioned.device_id;
    this.token = provisioned.token;
    this.seq = 0;
    this.counter = 0;
    this.changes = [];
  }
  row(table, village, fields, rowId = uuid7()) {
    const stamp = hlc(Date.now(), ++this.counter);
    for (const [field, value] of Object.entries(fields)) {
      this.changes.push({ op_id: uuid7(), device_id: this.id, device_seq: ++this.seq, table, row_id: rowId, field, value, hlc: stamp, scope: village });
    }
    return rowId;
  }
  async push(heartbeat = {}) {
    const changes = this.changes;
    this.changes = [];
    const res = await fetch(this.server.url('/v1/push'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({
        protocol: 1,
        device_id: this.id,
        changes,
        heartbeat: { pending_changes: 0, oldest_pending_secs: 0, app_version: '0.1.0-test', device_clock_ms: Date.now(), free_storage_bytes: 8e9, ...heartbeat },
      }),
    });
    return { status: res.status, body: await res.json() };
  }
}

/** Runs fieldctl (a real device) and returns { code, out }. */
export function fieldctl(dir, args) {
  try {
    return { code: 0, out: execFileSync(fieldctlBin, ['--data', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    return { code: e.status ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** First login with a one-time code: sets the password and lands on the overview. */
export async function firstLogin(page, server, login, code, password) {
  await page.goto(server.url('/console/first-login'));
  await page.fill('input[name=login]', login);
  await page.fill('input[name=code]', code);
  await page.fill('input[name=new_password]', password);
  await page.fill('input[name=repeat]', password);
  await Promise.all([page.waitForNavigation(), page.click('#submit')]);
}

/** Login with a password. */
export async function login(page, server, login, password) {
  await page.goto(server.url('/console/login'));
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForNavigation(), page.click('#submit')]);
}

/** The figure cards of the page, by name. */
export async function figures(page) {
  return page.$$eval('[data-figure]', (els) => Object.fromEntries(els.map((e) => [e.dataset.figure, Number(e.textContent.trim())])));
}

/** Whether a text has Chinese characters in it. */
export function hasChinese(s) {
  return /[\u4e00-\u9fff]/.test(s);
}

/** The label texts of a page: table headers, figure labels, navigation, headings, buttons (not the language switch). */
export async function labels(page) {
  return page.$$eval('th, .card .l, nav a, h2, button:not(#lang-switch), label', (els) => els.map((e) => e.textContent.trim()).filter(Boolean));
}
