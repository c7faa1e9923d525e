// The UI's language: zh-CN first, English second. Every string on screen comes from
// `messages.ts` through `t`; the core's own sentences (errors, code labels, agreement
// text) arrive in both languages and are picked with `pick`.

import type { MsgKey } from './messages';
import { translate } from './translate';
import type { Lang } from './types';

let current = $state<Lang>('zh');

export const i18n = {
  get lang(): Lang {
    return current;
  },
  set lang(v: Lang) {
    current = v;
    if (typeof document !== 'undefined') document.documentElement.lang = v === 'zh' ? 'zh-CN' : 'en';
  },
};

/** The sentence for `key` in the current language, with `{name}` placeholders filled. */
export function t(key: MsgKey, params?: Record<string, string | number>): string {
  return translate(current, key, params);
}

/** The current language's half of something the core says in both. */
export function pick(v: { zh: string; en: string } | null | undefined): string {
  if (!v) return '';
  return current === 'zh' ? v.zh : v.en;
}
