import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoSaver } from '../../src/lib/autosave';

test('saves one at a time and always ends with the latest state', async () => {
  const saved: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const s = new AutoSaver<number>(async (n) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    saved.push(n);
    inFlight--;
  });
  for (let i = 1; i <= 10; i++) void s.push(i);
  await s.flush();
  assert.equal(maxInFlight, 1);
  assert.equal(saved.at(-1), 10);
  assert.ok(saved.length <= 3, `intermediate states are skipped: ${saved}`);
  assert.equal(s.status, 'saved');
});

test('a failed save reports failure and the next change retries', async () => {
  let fail = true;
  const statuses: string[] = [];
  const s = new AutoSaver<string>(async () => { if (fail) throw new Error('disk full'); }, (st) => statuses.push(st));
  await s.push('a');
  assert.equal(s.status, 'failed');
  fail = false;
  await s.push('b');
  assert.equal(s.status, 'saved');
  assert.deepEqual(statuses, ['saving', 'failed', 'saving', 'saved']);
});
