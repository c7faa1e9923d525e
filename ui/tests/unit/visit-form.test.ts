import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AREAS, allNormal, emptyVisit, hasContent, isComplete, missing, restoreVisit, setEmergency, toNewVisit } from '../../src/lib/visit-form';

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
  assert.deepEqual(missing(n, AREAS).areas, []);
  assert.equal(isComplete(n, AREAS), false, 'the risk colour is still missing');
  assert.equal(isComplete({ ...n, risk_colour: 'green' }, AREAS), true);
});

test('an emergency makes the visit red with a mandatory report', () => {
  const v = setEmergency({ ...emptyVisit('home'), risk_colour: 'green', actions: ['referral'] }, true);
  assert.equal(v.risk_colour, 'red');
  assert.deepEqual(v.actions, ['referral', 'mandatory_report']);
  assert.deepEqual(setEmergency(v, true).actions, ['referral', 'mandatory_report']);
});

test('the command input carries every area, trimmed notes, no blank strings', () => {
  const v = { ...allNormal(emptyVisit('phone'), AREAS), risk_colour: 'blue', narrative: '  ', problems: ' 缺课 ' };
  v.checklist.mood = { status: 'watch', note: ' 不爱说话 ' };
  v.photos = [{ photo_id: 'p1', thumb_base64: '', width: 1, height: 1, bytes: 1 }];
  const n = toNewVisit('c1', v, AREAS);
  assert.equal(n.mode, 'phone');
  assert.deepEqual(Object.keys(n.checklist), [...AREAS]);
  assert.deepEqual(n.checklist.mood, { status: 'watch', note: '不爱说话' });
  assert.deepEqual(n.checklist.living, { status: 'normal' });
  assert.equal(n.narrative, undefined);
  assert.equal(n.problems, '缺课');
  assert.deepEqual(n.photo_ids, ['p1']);
});

test('a restored draft gets defaults for what it lacks', () => {
  const r = restoreVisit({ checklist: { living: { status: 'normal' } }, risk_colour: 'red' }, 'home');
  assert.equal(r.mode, 'home');
  assert.deepEqual(r.photos, []);
  assert.equal(r.risk_colour, 'red');
  assert.equal(restoreVisit(null, 'home').mode, 'home');
});
