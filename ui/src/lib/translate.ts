// Pure translation (no Svelte state), for code that is tested outside the browser.
import { messages, type MsgKey } from './messages';
import type { Lang } from './types';

export function format(s: string, params?: Record<string, string | number>): string {
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

export function translate(lang: Lang, key: MsgKey, params?: Record<string, string | number>): string {
  return format(messages[lang][key], params);
}
