import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relativeTime, syncBadge, dueText, day, bytes, shortLabel, age, duration, shortDay, dateTime, todayYmd, timeAhead, setCorrectedNow, nowMs } from '../../src/lib/format';
import type { SyncState } from '../../src/lib/types';

const now = Date.parse('2026-05-10T12:00:00Z');
const base: SyncState = { in_flight: false, pending_records: 0, pending_photos: 0, pending_bytes: 0, rejected: [] };

test('relative times in both languages', () => {
  assert.equal(relativeTime('zh', '2026-05-10T11:59:30Z', now), '刚刚');
  assert.equal(relativeTime('zh', '2026-05-10T11:45:00Z', now), '15 分钟前');
  assert.equal(relativeTime('en', '2026-05-10T09:00:00Z', now), '3 h ago');
  assert.equal(relativeTime('zh', '2026-05-08T12:00:00Z', now), '2 天前');
});

test('the sync badge names the last successful sync, never the last attempt', () => {
  const s = { ...base, last_success_at: '2026-05-10T10:00:00Z', last_attempt_at: '2026-05-10T11:59:00Z' };
  const b = syncBadge('zh', s, now);
  assert.equal(b.text, '上次同步 2 小时前');
  assert.equal(b.tone, 'ok');
});

test('never synced is never green', () => {
  const b = syncBadge('zh', { ...base, last_attempt_at: '2026-05-10T11:59:00Z' }, now);
  assert.equal(b.tone, 'bad');
  assert.equal(b.text, '从未同步');
});

test('pending or rejected records are not green, and an old success is not green', () => {
  const ok = '2026-05-10T11:00:00Z';
  assert.equal(syncBadge('zh', { ...base, last_success_at: ok, pending_records: 2 }, now).tone, 'pending');
  assert.match(syncBadge('zh', { ...base, last_success_at: ok, pending_records: 2 }, now).detail, /2 条待同步/);
  const rej = { table: 'visit', row_id: 'x', code: 'c', zh: '原因', en: 'reason' };
  assert.equal(syncBadge('zh', { ...base, last_success_at: ok, rejected: [rej] }, now).tone, 'bad');
  assert.equal(syncBadge('zh', { ...base, last_success_at: '2026-05-07T11:00:00Z' }, now).tone, 'pending');
  assert.equal(syncBadge('en', { ...base, last_success_at: ok, in_flight: true }, now).tone, 'busy');
});

test('due texts', () => {
  assert.equal(dueText('zh', { due_state: 'overdue', due_days: 4 }), '逾期 4 天');
  assert.equal(dueText('zh', { due_state: 'due_soon', due_days: 0 }), '今天到期');
  assert.equal(dueText('en', { due_state: 'due_soon', due_days: 2 }), 'Due in 2 days');
  assert.equal(dueText('en', { due_state: null, due_days: null }), '');
});

test('days, bytes, short labels, ages', () => {
  assert.equal(day('zh', '2026-05-01'), '2026年5月1日');
  assert.equal(day('en', '2026-05-01T08:00:00+08:00'), '1 May 2026');
  assert.equal(bytes(512), '512 B');
  assert.equal(bytes(1536), '1.5 KB');
  assert.equal(bytes(3 * 1024 * 1024), '3.0 MB');
  assert.equal(shortLabel('红色（立即干预）'), '红色');
  assert.equal(shortLabel('Red (intervene now)'), 'Red');
  assert.equal(age('2016-05-11', Date.parse('2026-05-10T00:00:00+08:00')), 9);
  assert.equal(age('2016-05-10', Date.parse('2026-05-10T00:00:00+08:00')), 10);
  // 20:00 UTC on the 9th is already the 10th in China.
  assert.equal(age('2016-05-10', Date.parse('2026-05-09T20:00:00Z')), 10);
});

test('waits and short days', () => {
  assert.equal(duration('zh', 45), '45 秒');
  assert.equal(duration('zh', 899), '15 分钟');
  assert.equal(duration('en', 120), '2 min');
  assert.equal(shortDay('zh', '2026-10-02', Date.parse('2026-12-01T00:00:00+08:00')), '10月2日');
  assert.equal(shortDay('zh', '2025-10-02', Date.parse('2026-12-01T00:00:00+08:00')), '2025年10月2日');
  assert.equal(dueText('zh', { due_state: 'overdue', due_days: 3, due_zh: '逾期 3 天（核心）', due_en: '' }), '逾期 3 天（核心）', 'the core words win');
});

test('dates and times are in China Standard Time whatever the phone is set to', () => {
  // The same moment written by a phone set to UTC, to UTC+8 and to New York.
  for (const iso of ['2026-05-10T20:30:00Z', '2026-05-11T04:30:00+08:00', '2026-05-10T16:30:00-04:00']) {
    assert.equal(dateTime('zh', iso), '2026年5月11日 04:30', iso);
  }
  assert.equal(dateTime('en', '2026-05-10T20:30:00Z'), '11 May 2026 04:30');
  assert.equal(todayYmd(Date.parse('2026-12-31T16:30:00Z')), '2027-01-01');
  const at = Date.parse('2026-05-10T02:00:00Z'); // 10:00 in China
  assert.equal(timeAhead('zh', 14 * 60, at), '10:14');
  assert.equal(timeAhead('zh', 15 * 3600, at), '5月11日 01:00');
});

test('ages and today are measured on the device\'s corrected clock, not the phone\'s', () => {
  // The phone's clock is three hours fast: the core says what time it really is.
  const phone = Date.now();
  setCorrectedNow(new Date(phone - 3 * 3600_000).toISOString(), phone);
  assert.ok(Math.abs(nowMs() - (Date.now() - 3 * 3600_000)) < 1000);
  assert.equal(relativeTime('zh', new Date(phone - 3 * 3600_000 - 5 * 60_000).toISOString()), '5 分钟前');
  setCorrectedNow(new Date().toISOString());
});
