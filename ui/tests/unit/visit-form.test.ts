import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allNormal, emptyVisit, hasContent, restoreVisit, toNewVisit } from '../../src/lib/visit-form';
import type { ChecklistArea } from '../../src/lib/types';

// The areas as the device's vocabulary lists them (the form keeps no list of its own).
const AREAS: ChecklistArea[] = ['living', 'guardianship', 'education', 'health', 'safety', 'mood'];

test('an untouched form is no draft; any entry is', () => {
  const v = emptyVisit('home');
  assert.equal(hasContent(v), false);
  assert.equal(hasContent({ ...v, narrative: '看望' }), true);
  assert.equal(hasContent({ ...v, checklist: { living: { status: 'watch' } } }), true);
});

test('all normal fills only the areas not yet chosen', () => {
  const v = { ...emptyVisit('home'), checklist: { health: { status: 'abnormal' as const, note: '发烧' } } };
  const n = allNormal(v, AREAS);
  assert.equal(n.checklist.health?.status, 'abnormal');
  assert.equal(n.checklist.health?.note, '发烧');
  for (const a of AREAS.filter((a) => a !== 'health')) assert.equal(n.checklist[a]?.status, 'normal');
});

test('the form holds no rule: an emergency changes nothing else, the device says what it needs', () => {
  const v = toNewVisit('c1', { ...emptyVisit('home'), emergency: true, risk_colour: 'green', actions: ['referral'] }, AREAS);
  assert.equal(v.emergency, true);
  assert.equal(v.risk_colour, 'green');
  assert.deepEqual(v.actions, ['referral']);
});

test('the command input carries only what was chosen, trimmed notes, no blank strings', () => {
  const v = { ...emptyVisit('phone'), risk_colour: 'blue', narrative: '  ', problems: ' 缺课 ' };
  v.checklist.mood = { status: 'watch', note: ' 不爱说话 ' };
  v.checklist.living = { status: 'normal' };
  v.photos = [{ photo_id: 'p1', thumb_base64: '', width: 1, height: 1, bytes: 1 }];
  const n = toNewVisit('c1', v, AREAS);
  assert.equal(n.mode, 'phone');
  // An area not chosen is left out: the device says it is missing.
  assert.deepEqual(Object.keys(n.checklist), ['living', 'mood']);
  assert.deepEqual(n.checklist.mood, { status: 'watch', note: '不爱说话' });
  assert.deepEqual(n.checklist.living, { status: 'normal' });
  assert.equal(n.narrative, undefined);
  assert.equal(n.problems, '缺课');
  assert.deepEqual(n.photo_ids, ['p1']);
  assert.equal(toNewVisit('c1', emptyVisit('home'), AREAS).risk_colour, undefined, 'no colour chosen: none sent');
});

test('a restored draft gets defaults for what it lacks', () => {
  const r = restoreVisit({ checklist: { living: { status: 'normal' } }, risk_colour: 'red' }, 'home');
  assert.equal(r.mode, 'home');
  assert.deepEqual(r.photos, []);
  assert.equal(r.risk_colour, 'red');
  assert.equal(restoreVisit(null, 'home').mode, 'home');
});
