// The field app UI's speed on a low-end phone: Chromium with its CPU throttled 4×
// (CDP Emulation.setCPUThrottlingRate), 360×640, against the real core through the
// bridge. Never a timed test: it prints figures and their ratios against baselines
// from the same run, for BENCHMARKS.md ("Field app UI").
//
//   npm run build && node bench/ui-bench.mjs [--children 5000] [--visits 10] [--runs 5]
//                                            [--keep DIR]
//
// 1. First-screen bundle: JS + CSS the first screen loads (entry + its preloads), gzip.
// 2. Home painted with a 5,000-child roster, from navigation start; baseline: a
//    same-origin empty page's first contentful paint.
// 3. Scrolling that roster: frame intervals (rAF) while the list is flung (a fling at
//    Android's maximum velocity, slowing down; and a harder constant 240 px a frame);
//    baseline: the frame interval of the idle page.
// 4. "Save visit" to the saved confirmation painted; baseline: one `app_state` round
//    trip through the bridge from the page.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launch, phone } from '../tests/browser/browser.mjs';
import { bridge, syncServer, cleanup, DIST, UI } from '../tests/browser/harness.mjs';
import { enroll, unlock, waitForRoster } from '../tests/browser/steps.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
const CHILDREN = opt('--children', 5000);
const VISITS = opt('--visits', 10);
const RUNS = opt('--runs', 5);
const RATE = 4;
// --keep DIR: keep the server's and the phone's data in DIR and reuse them next time
// (seeding 5,000 children through the bridge takes minutes; it is never timed).
const KEEP = args.includes('--keep') ? args[args.indexOf('--keep') + 1] : null;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const r1 = (x) => Math.round(x * 10) / 10;

// ---- 1. bundle ----------------------------------------------------------------------
function firstScreenBundle() {
  const html = readFileSync(join(DIST, 'index.html'), 'utf8');
  const files = new Set();
  for (const m of html.matchAll(/(?:src|href)="\.?\/?(assets\/[^"]+\.(?:js|css))"/g)) files.add(m[1]);
  let raw = 0;
  let gz = 0;
  const parts = [];
  for (const f of files) {
    const b = readFileSync(join(DIST, f));
    const g = gzipSync(b, { level: 9 }).length;
    raw += b.length;
    gz += g;
    parts.push({ file: f, bytes: b.length, gzip: g });
  }
  return { files: parts, raw, gzip: gz };
}

const bundle = firstScreenBundle();
console.log(`first-screen bundle: ${(bundle.gzip / 1024).toFixed(1)} KB gzip (${(bundle.raw / 1024).toFixed(1)} KB raw) in ${bundle.files.length} files`);

// ---- the device: enrolled, then 5,000 children on it --------------------------------
const kept = KEEP && existsSync(join(KEEP, 'device'));
const server = await syncServer(KEEP ? { data: join(KEEP, 'server') } : {});
const device = await bridge(KEEP ? { data: join(KEEP, 'device') } : {});
const browser = await launch();
const results = { date: new Date().toISOString(), cpu_throttle: RATE, children: CHILDREN, bundle };
try {
  const ctx = await phone(browser);
  const page = await ctx.newPage();
  await page.goto(device.url);
  if (kept) await unlock(page);
  else await enroll(page, server);
  await waitForRoster(page);
  await server.stop(); // nothing syncs during the measurements
  const state = await device.call('app_state');
  const village = state.villages[0];
  const have = (await device.call('roster', { overdue_only: false, include_exited: false })).length;
  const surn = '王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文';
  const giv = '小花明欣怡子涵浩然雨桐梓轩诗琪俊杰佳宇航思彤晨阳一诺可馨嘉懿若曦';
  const t0 = Date.now();
  for (let i = have; i < CHILDREN; i++) {
    const name = surn[i % surn.length] + giv[(i * 7) % giv.length] + giv[(i * 13 + 3) % giv.length];
    const y = 2012 + (i % 12); // under 16: a left-behind child must be
    await device.call('add_child', {
      name, sex: i % 2 ? 'male' : 'female', birth_date: `${y}-0${1 + (i % 9)}-1${i % 9}`, village_code: village,
      categories: [['left_behind', 'difficulty', 'community_orphan', 'key_difficulty'][i % 4]],
      risk_colour: ['red', 'yellow', 'blue', 'green'][i % 4], added_on: '2026-01-05',
    });
  }
  console.log(`seeded ${CHILDREN - have} children in ${((Date.now() - t0) / 1000).toFixed(0)} s (not timed)`);

  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: RATE });

  // ---- 2. home painted ----------------------------------------------------------------
  const origin = new URL(device.url).origin;
  await page.route(`${origin}/bench-empty.html`, (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><meta charset=utf-8><p>童护</p>' }));
  const empty = [];
  const home = [];
  for (let i = 0; i < RUNS; i++) {
    await page.goto(`${origin}/bench-empty.html`);
    empty.push(await page.evaluate(() => new Promise((res) => {
      const get = () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime;
      const t = get();
      if (t) return res(t);
      new PerformanceObserver(() => get() && res(get())).observe({ type: 'paint', buffered: true });
    })));
    await page.goto(`${device.url}#/home`);
    await page.waitForFunction(() => performance.getEntriesByName('tonghu:home-painted').length > 0, null, { timeout: 60_000 });
    home.push(await page.evaluate(() => performance.getEntriesByName('tonghu:home-painted')[0].startTime));
  }
  const homeCount = await page.evaluate(() => document.querySelectorAll('[data-testid=child-row]').length);
  // How much of that is the core answering `home` (5,000 children, through the bridge).
  const homeRtt = [];
  for (let i = 0; i < RUNS; i++) {
    homeRtt.push(await page.evaluate(async () => {
      const t = performance.now();
      await fetch('/api/home', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }).then((r) => r.json());
      return performance.now() - t;
    }));
  }
  results.home = { runs_ms: home.map(r1), median_ms: r1(median(home)), empty_fcp_median_ms: r1(median(empty)), ratio: r1(median(home) / median(empty)), rows_shown: homeCount, home_command_rtt_median_ms: r1(median(homeRtt)) };
  console.log(`home painted: median ${results.home.median_ms} ms (runs ${results.home.runs_ms.join(', ')}); empty page FCP ${results.home.empty_fcp_median_ms} ms; ratio ${results.home.ratio}×; the \`home\` command alone ${results.home.home_command_rtt_median_ms} ms`);

  // ---- 3. roster scroll -----------------------------------------------------------------
  await page.goto(`${device.url}#/roster`);
  await page.waitForFunction((n) => /\d+/.test(document.querySelector('[data-testid=roster-count]')?.textContent ?? '') && Number(document.querySelector('[data-testid=roster-count]').textContent.match(/\d+/)[0]) >= n, CHILDREN, { timeout: 60_000 });
  // Frame intervals (rAF) while the page scrolls as `plan` says: px per frame, one
  // entry a frame. The list is scrolled from the top each time.
  const frames = async (plan) => page.evaluate(async (plan) => {
    window.scrollTo(0, 0);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const deltas = [];
    let last = performance.now();
    let on = true;
    const tick = (t) => { deltas.push(t - last); last = t; if (on) requestAnimationFrame(tick); };
    requestAnimationFrame((t) => { last = t; requestAnimationFrame(tick); });
    if (plan.length) {
      for (const dy of plan) {
        window.scrollBy(0, dy);
        await new Promise((r) => requestAnimationFrame(r));
      }
    } else await new Promise((r) => setTimeout(r, 2000));
    on = false;
    return { deltas: deltas.slice(2), scrolled: window.scrollY, rows: document.querySelectorAll('[data-testid=child-row]').length };
  }, plan);
  // A thumb's fling at Android's fastest (ViewConfiguration's maximum fling velocity,
  // 8,000 dp/s = 133 px a frame at 60 Hz), slowing down by friction (5 % a frame), three
  // times down and once back up; and a harder stress: 240 px every frame (14,400 px/s,
  // beyond any fling a phone makes), 80 frames down and 40 back up at 360.
  const fling = (v0, sign) => { const out = []; for (let v = v0; v > 2; v *= 0.95) out.push(sign * Math.round(v)); return out; };
  const plans = {
    android: [...fling(133, 1), ...fling(133, 1), ...fling(133, 1), ...fling(133, -1)],
    hard: Array.from({ length: 120 }, (_, i) => (i < 80 ? 240 : -360)),
  };
  const idle = await frames([]);
  const stat = (run) => {
    const d = run.deltas;
    return {
      frames: d.length, max_ms: r1(Math.max(...d)), p95_ms: r1(pct(d, 0.95)), median_ms: r1(median(d)),
      frames_over_32ms: d.filter((x) => x > 32).length, ratio_p95: r1(pct(d, 0.95) / median(idle.deltas)), rows_in_dom: run.rows,
    };
  };
  results.scroll = { idle_median_ms: r1(median(idle.deltas)) };
  for (const [name, plan] of Object.entries(plans)) {
    results.scroll[name] = stat(await frames(plan));
    const x = results.scroll[name];
    console.log(`roster scroll, ${name} (${CHILDREN} children, ${x.rows_in_dom} rows in the DOM): ${x.frames} frames, max ${x.max_ms} ms, p95 ${x.p95_ms} ms, ${x.frames_over_32ms} over 32 ms; idle frame ${results.scroll.idle_median_ms} ms`);
  }

  // ---- 4. save visit ----------------------------------------------------------------------
  const ids = (await device.call('roster', { overdue_only: false, include_exited: false })).slice(0, VISITS).map((c) => c.child_id);
  const save = [];
  const rtt = [];
  for (const id of ids) {
    await page.goto(`${device.url}#/child/${id}/visit`);
    await page.waitForSelector('[data-testid=all-normal]');
    await page.locator('[data-testid=all-normal]').tap();
    await page.locator('[data-testid=visit-risk] [data-code=green]').tap();
    await page.waitForFunction(() => document.querySelector('[data-testid=draft-state]')?.getAttribute('data-status') === 'saved');
    rtt.push(await page.evaluate(async () => {
      const t = performance.now();
      await fetch('/api/app_state', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }).then((r) => r.json());
      return performance.now() - t;
    }));
    await page.evaluate(() => performance.clearMarks());
    await page.locator('[data-testid=save-visit]').tap();
    await page.waitForFunction(() => performance.getEntriesByName('tonghu:visit-saved').length > 0);
    save.push(await page.evaluate(() => performance.getEntriesByName('tonghu:visit-saved')[0].startTime - performance.getEntriesByName('tonghu:visit-save-start')[0].startTime));
  }
  results.save_visit = { runs_ms: save.map(r1), median_ms: r1(median(save)), max_ms: r1(Math.max(...save)), app_state_rtt_median_ms: r1(median(rtt)), ratio: r1(median(save) / median(rtt)) };
  console.log(`save visit → saved painted: median ${results.save_visit.median_ms} ms, max ${results.save_visit.max_ms} ms; app_state round trip ${results.save_visit.app_state_rtt_median_ms} ms; ratio ${results.save_visit.ratio}×`);
} finally {
  await browser.close();
  await device.stop();
  await server.stop();
  if (!KEEP) cleanup(server.data, device.data);
}
mkdirSync(join(UI, 'bench', 'results'), { recursive: true });
writeFileSync(join(UI, 'bench', 'results', 'latest.json'), JSON.stringify(results, null, 2));
console.log(JSON.stringify(results));
