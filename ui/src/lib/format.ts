// Pure formatting of dates, durations, sizes and the sync badge: what a director reads.
// No Svelte state, so tests/unit runs it in node.

import { translate } from './translate';
import type { Lang, RosterItem, SyncState } from './types';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** The deployment's zone, China Standard Time (UTC+8, no daylight saving): every date
 *  and time on screen is in it, whatever zone the phone is set to — the device's own
 *  days are (field-store's `today`, `now_china_rfc3339`). */
export const ZONE_OFFSET_MS = 8 * HOUR;

/** How far the phone's own clock is from the device's corrected clock
 *  (`SyncState.now` − the WebView's `Date.now()` when it arrived). */
let skewMs = 0;

/** Takes the corrected clock's reading (`SyncState.now`, RFC 3339): every age and
 *  "today" on screen is measured against it from then on, not the phone's own clock. */
export function setCorrectedNow(iso: string | null | undefined, at: number = Date.now()): void {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isNaN(t)) skewMs = t - at;
}

/** Now on the device's corrected clock, ms since the epoch. */
export function nowMs(): number {
  return Date.now() + skewMs;
}

/** The calendar fields of a moment in the deployment's zone. */
function inZone(ms: number): { y: number; mo: number; d: number; h: number; mi: number } {
  const z = new Date(ms + ZONE_OFFSET_MS);
  return { y: z.getUTCFullYear(), mo: z.getUTCMonth() + 1, d: z.getUTCDate(), h: z.getUTCHours(), mi: z.getUTCMinutes() };
}

/** "3 分钟前" / "3 min ago"; a date for anything older than a week. */
export function relativeTime(lang: Lang, iso: string, now: number = nowMs()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const d = Math.max(0, now - at);
  if (d < MIN) return translate(lang, 'just_now');
  if (d < HOUR) return translate(lang, 'minutes_ago', { n: Math.floor(d / MIN) });
  if (d < DAY) return translate(lang, 'hours_ago', { n: Math.floor(d / HOUR) });
  if (d < 7 * DAY) return translate(lang, 'days_ago', { n: Math.floor(d / DAY) });
  return dateTime(lang, iso);
}

const EN_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A calendar day (YYYY-MM-DD, or the date part of a timestamp) for people. */
export function day(lang: Lang, ymd: string | null | undefined): string {
  if (!ymd) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(ymd);
  if (!m) return ymd;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return lang === 'zh' ? `${y}年${mo}月${d}日` : `${d} ${EN_MONTHS[mo - 1]} ${y}`;
}

/** A day without the year when it is this year ("10月2日", "2 Oct"). */
export function shortDay(lang: Lang, ymd: string | null | undefined, now: number = nowMs()): string {
  if (!ymd) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(ymd);
  if (!m || Number(m[1]) !== inZone(now).y) return day(lang, ymd);
  const [mo, d] = [Number(m[2]), Number(m[3])];
  return lang === 'zh' ? `${mo}月${d}日` : `${d} ${EN_MONTHS[mo - 1]}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A timestamp as day and time (hh:mm) in the deployment's zone. */
export function dateTime(lang: Lang, iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const z = inZone(ms);
  return `${day(lang, `${z.y}-${pad(z.mo)}-${pad(z.d)}`)} ${pad(z.h)}:${pad(z.mi)}`;
}

/** A moment ahead (`secs` from now) as a time of day in the deployment's zone
 *  ("14:30"), with the day when it is not today. */
export function timeAhead(lang: Lang, secs: number, now: number = nowMs()): string {
  const at = now + secs * 1000;
  const z = inZone(at);
  const hm = `${pad(z.h)}:${pad(z.mi)}`;
  return todayYmd(at) === todayYmd(now) ? hm : `${shortDay(lang, todayYmd(at), now)} ${hm}`;
}

/** A wait in words: seconds under a minute and a half, else whole minutes. */
export function duration(lang: Lang, secs: number): string {
  if (secs < 90) return translate(lang, 'secs', { n: Math.max(0, Math.round(secs)) });
  return translate(lang, 'mins', { n: Math.round(secs / 60) });
}

/** Bytes as B / KB / MB with one decimal. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Where a roster child stands against its due date, in words: the core's own
 *  sentence when it gives one, else from the state and days. */
export function dueText(lang: Lang, e: Pick<RosterItem, 'due_state' | 'due_days'> & Partial<Pick<RosterItem, 'due_zh' | 'due_en'>>): string {
  const given = lang === 'zh' ? e.due_zh : e.due_en;
  if (given) return given;
  const n = e.due_days ?? 0;
  switch (e.due_state) {
    case 'overdue':
      return translate(lang, 'due_overdue_days', { n: Math.max(1, n) });
    case 'due_soon':
      return n <= 0 ? translate(lang, 'due_today') : translate(lang, 'due_in_days', { n });
    case 'not_due':
      return translate(lang, 'due_not_due', { n });
    default:
      return '';
  }
}

export type BadgeTone = 'ok' | 'pending' | 'bad' | 'busy';

/**
 * The sync badge. It always names the last SUCCESSFUL sync (never the last attempt),
 * and it is green only when that success is recent and nothing is waiting or rejected.
 */
export function syncBadge(
  lang: Lang,
  s: SyncState,
  now: number = nowMs(),
): { tone: BadgeTone; text: string; detail: string } {
  const when = s.last_success_at
    ? translate(lang, 'sync_last_success', { when: relativeTime(lang, s.last_success_at, now) })
    : translate(lang, 'sync_never');
  const waiting = s.pending_records + s.pending_photos;
  const parts: string[] = [];
  if (s.rejected.length > 0) parts.push(translate(lang, 'sync_rejected', { n: s.rejected.length }));
  if (waiting > 0) parts.push(translate(lang, 'sync_pending', { n: waiting }));
  let tone: BadgeTone;
  if (s.in_flight) tone = 'busy';
  else if (s.rejected.length > 0 || !s.last_success_at) tone = 'bad';
  else if (waiting > 0) tone = 'pending';
  else {
    const age = now - Date.parse(s.last_success_at);
    tone = age <= DAY ? 'ok' : 'pending';
  }
  if (s.in_flight) parts.unshift(translate(lang, 'sync_in_flight'));
  else if (s.online === false) parts.push(translate(lang, 'sync_offline'));
  return { tone, text: when, detail: parts.join(' · ') };
}

/** The short name of a code label: "红色（立即干预）" → "红色", "Red (intervene now)" → "Red". */
export function shortLabel(label: string): string {
  return label.split(/[（(]/)[0].trim() || label;
}

/** Age in whole years on the day of `now` (in the deployment's zone) from a
 *  YYYY-MM-DD birth date. */
export function age(birth: string, now: number = nowMs()): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(birth);
  if (!m) return null;
  const z = inZone(now);
  let a = z.y - Number(m[1]);
  if (z.mo < Number(m[2]) || (z.mo === Number(m[2]) && z.d < Number(m[3]))) a -= 1;
  return a;
}

/** The day of `now` as YYYY-MM-DD in the deployment's zone. */
export function todayYmd(now: number = nowMs()): string {
  const z = inZone(now);
  return `${z.y}-${pad(z.mo)}-${pad(z.d)}`;
}
