import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changedFields, childToForm, emptyChild, formToNewChild, newChildToForm } from '../../src/lib/child-form';
import { emptyTerms, normalizeTerms, prefillTerms, signersFor } from '../../src/lib/agreement-form';
import { parse } from '../../src/lib/router-parse';
import type { ChildFile } from '../../src/lib/types';

test('a new child leaves blanks out and sends the ID in upper case', () => {
  const v = { ...emptyChild('370602001'), name: ' 李小花 ', sex: 'female', birth_date: '2016-03-01', id_number: '37060220160301002x', categories: ['left_behind'], risk_colour: 'blue' };
  const f = formToNewChild(v);
  assert.equal(f.name, '李小花');
  assert.equal(f.id_number, '37060220160301002X');
  assert.equal(f.notes, undefined);
  assert.equal(f.village_code, '370602001');
});

test('an edit sends only what changed, and a blank ID box keeps the stored one', () => {
  const before = childToForm({ child_id: 'c', name: '李小花', sex: 'female', birth_date: '2016-03-01', id_number: '370602********002X', categories: ['left_behind'], risk_colour: 'blue', village_code: 'v', household_registered: true, status: 'active', added_on: '2026-01-01', age: 10, sync: { state: 'sent' } });
  assert.equal(before.id_number, '', 'the masked number is never put back into the form');
  const after = { ...before, current_address: '东村 3 号', categories: ['left_behind', 'difficulty'] };
  assert.deepEqual(changedFields(before, after), { current_address: '东村 3 号', categories: ['left_behind', 'difficulty'] });
  const cleared = { ...after, current_address: '' };
  assert.deepEqual(changedFields(after, cleared), { current_address: null }, 'a cleared field is sent as null');
  assert.deepEqual(changedFields(before, { ...before, id_number: '37060220160301002x' }), { id_number: '37060220160301002X' });
});

test('an agreement draft is prefilled from the file; signers in order', () => {
  const file = {
    child: { child_id: 'c', name: '王小明', birth_date: '2015-09-01', school: { enrolment: 'enrolled', name: '东村小学' } },
    guardians: [
      { guardian_id: 'g1', role: 'father', name: '王大军', whereabouts: 'away_working', work_location: '青岛', phone: '13800000000' },
      { guardian_id: 'g2', role: 'entrusted_caregiver', name: '张秀英', relationship: '祖母', phone: '13900000000' },
    ],
    visits: [], agreement_drafts: [], agreements: [], referrals: [], tasks: [], consents: [], history: [], needs_agreement: true, consent_signed: true,
  } as unknown as ChildFile;
  const t = prefillTerms(file);
  assert.equal(t.child.name, '王小明');
  assert.equal(t.child.school, '东村小学');
  assert.equal(t.principal.relation, 'father');
  assert.equal(t.principal.work_location, '青岛');
  assert.equal(t.caregiver.name, '张秀英');
  assert.equal(t.reason, '外出务工');
  t.witness.child_director = '刘主任';
  assert.deepEqual(signersFor(t, ['caregiver', 'witness'], false).map((s) => s.role), ['caregiver', 'witness']);
  assert.deepEqual(signersFor(t, ['witness', 'caregiver'], true).map((s) => [s.role, s.name]), [['caregiver', '张秀英'], ['principal', '王大军'], ['witness', '刘主任']]);
  assert.deepEqual(signersFor(t, ['principal', 'caregiver'], false).map((s) => s.role), ['caregiver', 'principal'], 'the core decides who must sign');
  const n = normalizeTerms({ ...emptyTerms(), period_start: '', period_end: '2027-01-01' });
  assert.equal(n.period_start, null);
  assert.equal(n.period_end, '2027-01-01');
});

test('routes', () => {
  assert.equal(parse('#/child/abc/visit').name, 'visit');
  assert.equal(parse('#/child/abc/visit').params.id, 'abc');
  assert.deepEqual(parse('#/child/a/agreement/d1').params, { id: 'a', draft: 'd1' });
  assert.equal(parse('#/child/a/agreement?from=d0').query.get('from'), 'd0');
  assert.equal(parse('#/child/new').name, 'register');
  assert.equal(parse('#/nonsense').name, 'home');
  assert.equal(parse('').name, 'home');
});

test('a task opens at #/task/<id>, its register form at #/task/<id>/register', () => {
  assert.deepEqual(parse('#/task/t1').params, { id: 't1' });
  assert.equal(parse('#/task/t1').name, 'task');
  const r = parse('#/task/t1/register');
  assert.equal(r.name, 'task_register');
  assert.deepEqual(r.params, { task: 't1' });
});

test('the register form pre-filled from a finding keeps what the list says, ID masked', () => {
  const v = newChildToForm({ name: '李小红', sex: 'female', birth_date: '2014-03-02', id_number: '3706**********1229', village_code: 'v1', categories: [], task_id: 't1' });
  assert.equal(v.name, '李小红');
  assert.equal(v.sex, 'female');
  assert.equal(v.birth_date, '2014-03-02');
  assert.equal(v.id_number, '3706**********1229');
  assert.equal(v.village_code, 'v1');
  assert.deepEqual(v.categories, []);
  assert.equal(v.household_registered, true);
  // Sent back unchanged, the masked number is what the core recognises as the list's.
  assert.equal(formToNewChild({ ...v, categories: ['difficulty'] }).id_number, '3706**********1229');
});
