import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zh, en } from '../../src/lib/messages';
import { translate } from '../../src/lib/translate';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('every message has both languages, none blank, same placeholders', () => {
  const zk = Object.keys(zh).sort();
  const ek = Object.keys(en).sort();
  assert.deepEqual(ek, zk, 'zh and en have the same keys');
  for (const k of zk) {
    const z = (zh as Record<string, string>)[k];
    const e = (en as Record<string, string>)[k];
    assert.ok(z.trim().length > 0, `zh.${k} is blank`);
    assert.ok(e.trim().length > 0, `en.${k} is blank`);
    assert.deepEqual(placeholders(e), placeholders(z), `placeholders of ${k}`);
  }
});

test('Chinese messages are Chinese and English ones are not', () => {
  const han = /[\u4e00-\u9fff]/;
  for (const [k, z] of Object.entries(zh)) {
    const words = z.replace(/\{\w+\}/g, '');
    if (!/[A-Za-z\u4e00-\u9fff]/.test(words)) continue; // only placeholders and signs
    assert.ok(han.test(words), `zh.${k} has no Chinese: ${z}`);
  }
  for (const [k, e] of Object.entries(en)) {
    if (k === 'settings_language') continue;
    assert.ok(!han.test(e), `en.${k} contains Chinese: ${e}`);
  }
});

test('placeholders are filled, unknown ones kept', () => {
  assert.equal(translate('zh', 'due_overdue_days', { n: 3 }), '逾期 3 天');
  assert.equal(translate('en', 'due_overdue_days', { n: 3 }), '3 days overdue');
  assert.equal(translate('en', 'due_overdue_days'), '{n} days overdue');
});
