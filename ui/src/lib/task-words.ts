// A task and the county's decision in words (pure, tested in node): why a task was
// made, how long it has waited, where a child stands with the county. The sentences
// are messages.ts's; code labels come from the core's vocabulary (`labelOf`).
import { day } from './format';
import { translate } from './translate';
import type { ConfirmationState, FindingView, Lang } from './types';

const EN_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** A list's month (`2026-05`) as people say it: 2026年5月, May 2026. */
export function listMonth(lang: Lang, ym: string): string {
  const m = /^(\d{4})-(\d{2})$/.exec(ym);
  if (!m) return ym;
  const [y, mo] = [Number(m[1]), Number(m[2])];
  return lang === 'zh' ? `${y}年${mo}月` : `${EN_MONTHS[mo - 1]} ${y}`;
}

/** How long a task has waited ("已等 3 天", "new today"); empty when unknown. */
export function taskAge(lang: Lang, days: number | null | undefined): string {
  if (days === null || days === undefined) return '';
  return days <= 0 ? translate(lang, 'task_age_today') : translate(lang, 'task_age', { n: days });
}

/** Why the task was made, in one sentence. `child` is the roster child's name for a
 *  finding on a child on file. */
export function findingWhy(lang: Lang, f: FindingView, child?: string | null): string {
  const month = listMonth(lang, f.list_month);
  const list = f.list_name;
  const name = f.person?.name ?? '';
  const adult = f.adult?.name ?? f.guardian_name ?? '';
  const who = f.adult?.relationship ?? '';
  const grade = f.adult?.disability_grade ? translate(lang, 'finding_grade', { n: f.adult.disability_grade }) : '';
  const childName = child || name;
  switch (f.finding) {
    case 'unlisted_minor':
      return translate(lang, 'finding_unlisted_minor', { month, list, name });
    case 'guardian_listed':
      return translate(lang, 'finding_guardian_listed', { child: childName, who, adult, month, list, grade });
    case 'household_listed':
      return translate(lang, 'finding_household_listed', { child: childName, who, adult, month, list, grade });
    case 'joined_list':
      return translate(lang, 'finding_joined_list', { child: childName, month, list });
    case 'left_list':
      return translate(lang, 'finding_left_list', { child: childName, month, list });
  }
}

/** Where a child stands with the county, as the file shows it: the line, what to do
 *  or what follows, and its tone. `kindLabel` names 增员 / 变更 / 减员. */
export function countyWords(
  lang: Lang,
  c: ConfirmationState,
  kindLabel: (code: string) => string,
): { line: string; detail: string; tone: 'ok' | 'warn' | 'danger' | 'muted' } {
  switch (c.state) {
    case 'not_in_care':
      return { line: translate(lang, 'county_not_in_care'), detail: '', tone: 'muted' };
    case 'awaiting':
      return {
        line: translate(lang, 'county_awaiting', { kind: kindLabel(c.kind) }),
        detail: translate(lang, 'county_awaiting_hint'),
        tone: 'warn',
      };
    case 'sent_back':
      return {
        line: translate(lang, 'county_sent_back', { kind: kindLabel(c.sent_back.kind), reason: c.sent_back.reason }),
        detail: translate(lang, 'county_sent_back_todo'),
        tone: 'danger',
      };
    case 'confirmed': {
      const k = c.confirmed;
      if (k.kind === 'exit') {
        return { line: translate(lang, 'county_confirmed_exit', { date: day(lang, k.at) }), detail: '', tone: 'muted' };
      }
      const standard =
        k.monthly_standard_yuan === null || k.monthly_standard_yuan === undefined
          ? translate(lang, 'county_no_standard')
          : translate(lang, 'county_standard', { yuan: k.monthly_standard_yuan.toLocaleString('en-US') });
      return {
        line: translate(lang, 'county_confirmed', { date: day(lang, k.in_care_since) }),
        detail: `${standard} · ${translate(lang, 'county_decided', { by: k.by, date: day(lang, k.at) })}`,
        tone: 'ok',
      };
    }
  }
}
