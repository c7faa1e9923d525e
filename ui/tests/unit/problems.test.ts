import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstBlocking, problemsAt, refusal, under, unplaced } from '../../src/lib/problems';

const p = (field: string | undefined, blocks = true, code = 'required') => ({ code, zh: `${field}有误`, en: `${field} is wrong`, field, blocks });

test('a problem belongs to its field and the fields above it', () => {
  assert.ok(under('checklist.health', 'checklist'));
  assert.ok(under('checklist.health', 'checklist.health'));
  assert.ok(!under('checklist.healthy', 'checklist.health'));
  assert.ok(!under(undefined, 'name'));
  const list = [p('checklist.health'), p('risk_colour', false), p('terms.caregiver.phone')];
  assert.deepEqual(problemsAt(list, 'checklist').map((x) => x.field), ['checklist.health']);
  assert.deepEqual(problemsAt(list, 'terms.caregiver').map((x) => x.field), ['terms.caregiver.phone']);
  assert.deepEqual(unplaced([...list, p(undefined)], ['checklist', 'risk_colour']).map((x) => x.field), ['terms.caregiver.phone', undefined]);
});

test('the first blocking problem is the first in the form, not the first the device listed', () => {
  const list = [p('next_due_on'), p('risk_colour', false), p('checklist.mood'), p(undefined)];
  const order = ['mode', 'checklist.living', 'checklist.mood', 'risk_colour', 'next_due_on'];
  assert.equal(firstBlocking(list, order)?.field, 'checklist.mood');
  assert.equal(firstBlocking([p('risk_colour', false)], order), null, 'a warning never stops the save');
  assert.equal(firstBlocking([p('elsewhere')], order)?.field, 'elsewhere');
  assert.equal(refusal({ code: 'x', zh: '不行', en: 'no', field: 'name' }).blocks, true);
});
