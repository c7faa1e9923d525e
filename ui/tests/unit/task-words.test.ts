import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countyWords, findingWhy, listMonth, taskAge } from '../../src/lib/task-words';
import type { CareSnapshot, FindingView } from '../../src/lib/types';

const minor: FindingView = {
  finding: 'unlisted_minor', list_name: '农村低保', list_month: '2026-05', meaning: '',
  person: { name: '李小红', id_number: '3706**********1229', sex: 'female', birth_date: '2014-03-02', age: 12 },
};
const guardian: FindingView = {
  finding: 'guardian_listed', list_name: '重度残疾人护理补贴', list_month: '2026-05', meaning: '',
  adult: { name: '王芳', id_number_masked: '3706**********1234', relationship: '母亲', disability_grade: 1 },
};
const kind = (c: string) => ({ addition: '增员', change: '变更', exit: '减员' })[c] ?? c;
const snap: CareSnapshot = { categories: ['difficulty'], status: 'active', exit_reason: null };

test('why a task was made, in each language, naming the list and its month', () => {
  assert.equal(findingWhy('zh', minor), '2026年5月农村低保名单上的未成年人李小红不在儿童台账上。');
  assert.equal(findingWhy('en', minor), '李小红, a minor on the 农村低保 list of May 2026, is not on the roster.');
  assert.equal(findingWhy('zh', guardian, '王小明'), '王小明的母亲王芳在2026年5月重度残疾人护理补贴名单上（残疾1级）。');
  assert.ok(findingWhy('en', guardian, '王小明').endsWith('(disability grade 1).'));
  for (const f of ['household_listed', 'joined_list', 'left_list'] as const) {
    const s = findingWhy('zh', { ...guardian, finding: f }, '王小明');
    assert.ok(s.includes('王小明') && s.includes('2026年5月'), s);
    assert.ok(!/\{\w+\}/.test(findingWhy('en', { ...guardian, finding: f }, '王小明')));
  }
});

test('months and ages in words', () => {
  assert.equal(listMonth('zh', '2026-05'), '2026年5月');
  assert.equal(listMonth('en', '2026-12'), 'December 2026');
  assert.equal(listMonth('en', 'bad'), 'bad');
  assert.equal(taskAge('zh', 3), '已等 3 天');
  assert.equal(taskAge('zh', 0), '今天下发');
  assert.equal(taskAge('en', 12), '12 days waiting');
  assert.equal(taskAge('en', undefined), '');
});

test('the county state on the file: awaiting, sent back with the reason, confirmed with date and standard', () => {
  const a = countyWords('zh', { state: 'awaiting', kind: 'addition', previous: null }, kind);
  assert.equal(a.line, '待县级确认（增员）');
  assert.equal(a.tone, 'warn');
  const sb = countyWords('zh', { state: 'sent_back', sent_back: { kind: 'change', snapshot: snap, reason: '请补充户籍证明', by: '陈科长', at: '2026-05-21T10:00:00+08:00' } }, kind);
  assert.equal(sb.line, '县级退回（变更）：请补充户籍证明');
  assert.equal(sb.tone, 'danger');
  const c = countyWords('zh', { state: 'confirmed', confirmed: { kind: 'addition', snapshot: snap, in_care_since: '2026-05-22', monthly_standard_yuan: 1785, by: '陈科长', at: '2026-05-22T10:00:00+08:00' } }, kind);
  assert.equal(c.line, '已确认：2026年5月22日纳入保障');
  assert.ok(c.detail.includes('每月保障标准 1,785 元') && c.detail.includes('陈科长'), c.detail);
  const en = countyWords('en', { state: 'confirmed', confirmed: { kind: 'addition', snapshot: snap, in_care_since: '2026-05-22', monthly_standard_yuan: 2503, by: 'x', at: '2026-05-22' } }, kind);
  assert.equal(en.line, 'Confirmed: in care since 22 May 2026');
  assert.ok(en.detail.startsWith('Monthly allowance 2,503 yuan'));
  const exit = countyWords('zh', { state: 'confirmed', confirmed: { kind: 'exit', snapshot: { ...snap, status: 'exited' }, in_care_since: '2026-01-01', monthly_standard_yuan: null, by: 'x', at: '2026-06-01T09:00:00+08:00' } }, kind);
  assert.equal(exit.line, '县级已确认减员（2026年6月1日）');
  assert.equal(countyWords('en', { state: 'not_in_care' }, kind).line, 'Nothing for the county to confirm');
});
