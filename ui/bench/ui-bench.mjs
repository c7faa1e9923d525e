// The field app UI's speed on a low-end phone: Chromium with its CPU throttled 4×
// (CDP Emulation.setCPUThrottlingRate), 360×640, against the real core through the
// bridge. Never a timed test: it prints figures and their ratios against baselines
// from the same run, for BENCHMARKS.md ("Field app UI").
//
//   npm run build && node bench/ui-bench.mjs [--children 5000] [--visits 10] [--runs 5]
//                                            [--scroll-runs 5] [--keep DIR]
//                                            [--only home,scroll,visit] [--trace]
//
// 1. First-screen bundle: JS + CSS the first screen loads (entry + its preloads), gzip.
// 2. Home painted with a 5,000-child roster, from navigation start; baseline: a
//    same-origin empty page's first contentful paint.
// 3. Scrolling that roster: frame intervals (rAF) while the list is flung (a fling at
//    Android's maximum velocity, slowing down; and a harder constant 240 px a frame);
//    baselines: the frame interval of the idle page, and the same plans on a frozen
//    copy of the roster's page (its DOM without scripts: the browser's own scrolling
//    of the same page on this machine, nothing refilled). --trace adds one traced run of
//    each plan (not counted in the figures): the main thread's own CPU time in its
//    longest tasks, which a loaded machine does not inflate as it does frame intervals
//    (the throttle makes the main thread wait, not work: ×4 of it is what a quiet
//    machine's 4× phone would spend), and what those tasks did.
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
// Each scroll plan is run this many times in a row: the goal holds in every run.
const SCROLL_RUNS = opt('--scroll-runs', 5);
// --only scroll (or home, visit; comma-separated): measure only those parts.
const ONLY = args.includes('--only') ? new Set(args[args.indexOf('--only') + 1].split(',')) : null;
const want = (part) => !ONLY || ONLY.has(part);
const RATE = 4;
// --keep DIR: keep the server's and the phone's data in DIR and reuse them next time
// (seeding 5,000 children through the bridge takes minutes; it is never timed).
const KEEP = args.includes('--keep') ? args[args.indexOf('--keep') + 1] : null;
const TRACE = args.includes('--trace');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const r1 = (x) => Math.round(x * 10) / 10;

/** The renderer main thread's top-level tasks in a Chrome trace: their CPU time
 *  (tdur), longest first, and what the longest did (CPU by event, one level down). */
function mainThreadTasks(events) {
  const mains = events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  const count = (m) => events.filter((e) => e.pid === m.pid && e.tid === m.tid && e.ph === 'X').length;
  const main = mains.sort((a, b) => count(b) - count(a))[0];
  const on = events.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && typeof e.tdur === 'number');
  // Top-level tasks only (a RunTask inside another is the same work).
  const runs = on.filter((e) => e.name === 'ThreadControllerImpl::RunTask' || e.name === 'RunTask').sort((a, b) => a.ts - b.ts);
  const tasks = [];
  for (const e of runs) {
    const prev = tasks[tasks.length - 1];
    if (prev && e.ts < prev.ts + prev.dur) continue;
    tasks.push(e);
  }
  tasks.sort((a, b) => b.tdur - a.tdur);
  const wanted = new Set(['FunctionCall', 'EventDispatch', 'FireAnimationFrame', 'TimerFire', 'RunMicrotasks', 'UpdateLayoutTree', 'Layout', 'PrePaint', 'Paint', 'Layerize', 'Commit', 'HitTest', 'MinorGC', 'MajorGC', 'V8.GC_SCAVENGER', 'V8.GCScavenger', 'ParseHTML', 'IntersectionObserverController::computeIntersections', 'UpdateLayer', 'ScrollLayer']);
  const top = tasks.slice(0, 3).map((t) => {
    const parts = {};
    for (const e of on) {
      if (e === t || e.ts < t.ts || e.ts + e.dur > t.ts + t.dur || !wanted.has(e.name)) continue;
      parts[e.name] = (parts[e.name] ?? 0) + e.tdur / 1000;
    }
    return { cpu_ms: r1(t.tdur / 1000), wall_ms: r1(t.dur / 1000), parts: Object.entries(parts).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, r1(v)]) };
  });
  return { tasks: tasks.length, longest_cpu_ms: tasks.slice(0, 5).map((t) => r1(t.tdur / 1000)), tasks_over_8ms_cpu: tasks.filter((t) => t.tdur > 8000).length, top };
}

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
  if (want('home')) {
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
  }

  // ---- 3. roster scroll -----------------------------------------------------------------
  if (want('scroll')) {
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
  // The frozen copy: the roster's page as it is now, scripts removed.
  const frozen = await page.evaluate(() => '<!doctype html>' + document.documentElement.outerHTML.replace(/<script[^>]*>[\s\S]*?<\/script>/g, ''));
  await page.route(`${origin}/bench-frozen.html`, (r) => r.fulfill({ contentType: 'text/html', body: frozen }));
  const roster = async () => {
    await page.goto(`${device.url}#/roster`);
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=roster-count]')?.textContent.match(/\d+/)?.[0]) >= n, CHILDREN, { timeout: 60_000 });
  };
  const stat = (run) => {
    const d = run.deltas;
    return {
      frames: d.length, max_ms: r1(Math.max(...d)), p95_ms: r1(pct(d, 0.95)), median_ms: r1(median(d)),
      frames_over_32ms: d.filter((x) => x > 32).length, ratio_p95: r1(pct(d, 0.95) / median(idle.deltas)), rows_in_dom: run.rows,
    };
  };
  results.scroll = { idle_median_ms: r1(median(idle.deltas)), runs: SCROLL_RUNS };
  for (const [name, plan] of Object.entries(plans)) {
    const runs = [];
    for (let i = 0; i < SCROLL_RUNS; i++) {
      const x = stat(await frames(plan));
      runs.push(x);
      console.log(`roster scroll, ${name}, run ${i + 1}/${SCROLL_RUNS} (${CHILDREN} children, ${x.rows_in_dom} rows in the DOM): ${x.frames} frames, max ${x.max_ms} ms, p95 ${x.p95_ms} ms, ${x.frames_over_32ms} over 32 ms; idle frame ${results.scroll.idle_median_ms} ms`);
    }
    await page.goto(`${origin}/bench-frozen.html`);
    const still = [];
    for (let i = 0; i < SCROLL_RUNS; i++) still.push(stat(await frames(plan)));
    await roster();
    console.log(`roster scroll, ${name}, the frozen copy of the page: over 32 ms per run ${still.map((x) => x.frames_over_32ms).join(', ')}; max ${Math.max(...still.map((x) => x.max_ms))} ms`);
    results.scroll[name] = {
      frozen_copy: { frames_over_32ms_per_run: still.map((x) => x.frames_over_32ms), max_ms: Math.max(...still.map((x) => x.max_ms)), p95_ms_median: r1(median(still.map((x) => x.p95_ms))) },
      runs,
      frames_over_32ms_per_run: runs.map((x) => x.frames_over_32ms),
      runs_without_a_frame_over_32ms: runs.filter((x) => x.frames_over_32ms === 0).length,
      max_ms: Math.max(...runs.map((x) => x.max_ms)),
      p95_ms_median: r1(median(runs.map((x) => x.p95_ms))),
    };
    if (TRACE) {
      await browser.startTracing(page, { categories: ['toplevel', 'devtools.timeline'] });
      await frames(plan);
      results.scroll[name].trace = mainThreadTasks(JSON.parse(await browser.stopTracing()).traceEvents);
      const tr = results.scroll[name].trace;
      console.log(`roster scroll, ${name}, traced: main thread CPU in its longest tasks ${tr.longest_cpu_ms.join(', ')} ms (×${RATE}: ${tr.longest_cpu_ms.map((x) => r1(x * RATE)).join(', ')}); tasks over 8 ms CPU (32 ms at ×${RATE}): ${tr.tasks_over_8ms_cpu} of ${tr.tasks}`);
      for (const t of tr.top) console.log(`  ${t.cpu_ms} ms CPU (${t.wall_ms} ms wall): ${t.parts.map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
    const y = results.scroll[name];
    console.log(`roster scroll, ${name}: ${y.runs_without_a_frame_over_32ms}/${SCROLL_RUNS} runs with no frame over 32 ms (over 32 ms per run: ${y.frames_over_32ms_per_run.join(', ')}); max ${y.max_ms} ms; p95 median ${y.p95_ms_median} ms`);
  }
  }

  // ---- 4. save visit ----------------------------------------------------------------------
  if (want('visit')) {
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
  }
} finally {
  await browser.close();
  await device.stop();
  await server.stop();
  if (!KEEP) cleanup(server.data, device.data);
}
mkdirSync(join(UI, 'bench', 'results'), { recursive: true });
writeFileSync(join(UI, 'bench', 'results', 'latest.json'), JSON.stringify(results, null, 2));
console.log(JSON.stringify(results));
