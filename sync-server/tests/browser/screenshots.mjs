// Screenshots of the console for the README (docs/screenshots/console-*.png): a real
// server with the demo city (`serve --seed-demo`), Debian's Chromium at a desktop size.
//   npm run screenshots        (after `cargo build -p sync-server`)
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, repo, serverBin, firstLogin } from './harness.mjs';

const out = join(repo, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'tonghu-shots-'));
const proc = spawn(serverBin, ['serve', '--data', dir, '--listen', '127.0.0.1:0', '--seed-demo'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
let stdout = '';
proc.stdout.on('data', (b) => { stdout += b; });
const base = await new Promise((ok, fail) => {
  let err = '';
  setTimeout(() => fail(new Error(err)), 60000);
  proc.stderr.on('data', (b) => { err += b; const m = err.match(/supervisor console: (http:\/\/[0-9.:]+)\/console/); if (m) ok(m[1]); });
});
const code = (login) => stdout.match(new RegExp(`console\\s+${login}\\s+one-time login code (\\S+)`))[1];
const server = { url: (p) => base + p };
const browser = await launch();
try {
  const shot = async (page, name) => page.screenshot({ path: join(out, `console-${name}.png`), fullPage: true });
  const sup = await (await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })).newPage();
  await firstLogin(sup, server, 'sup-370602001', code('sup-370602001'), 'demo-password-1');
  await shot(sup, 'overview');
  await sup.goto(server.url('/console/directors/dir-370602001002'));
  await shot(sup, 'director');
  await sup.click('#children tr[data-child] a');
  await sup.waitForLoadState();
  await shot(sup, 'child');
  // The same supervisor in English (the switch in the header).
  await sup.goto(server.url('/console/overview'));
  await Promise.all([sup.waitForNavigation(), sup.click('#lang-switch')]);
  await shot(sup, 'overview-en');
  await Promise.all([sup.waitForNavigation(), sup.click('#lang-switch')]);
  const county = await (await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })).newPage();
  await firstLogin(county, server, 'admin-370602', code('admin-370602'), 'demo-password-2');
  await shot(county, 'county');
  await county.goto(server.url('/console/admin'));
  await shot(county, 'accounts');
  await county.goto(server.url('/console/admin/access-log'));
  await shot(county, 'access-log');
  const city = await (await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })).newPage();
  await firstLogin(city, server, 'admin-3706', code('admin-3706'), 'demo-password-3');
  await shot(city, 'city');
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  proc.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
