// The child form's fields ↔ the schema's (domain::child). Pure, tested in node.
import type { Category, ChildView, GuardianshipRating, NewChild, RiskColour, Sex } from './types';

export interface ChildFormValue {
  name: string;
  sex: string;
  birth_date: string;
  id_number: string;
  ethnicity: string;
  village_code: string;
  categories: string[];
  risk_colour: string;
  household_registered: boolean;
  current_address: string;
  guardianship_rating: string;
  notes: string;
}

export function emptyChild(village: string): ChildFormValue {
  return {
    name: '', sex: '', birth_date: '', id_number: '', ethnicity: '', village_code: village,
    categories: [], risk_colour: '', household_registered: true, current_address: '',
    guardianship_rating: '', notes: '',
  };
}

/** The form for an existing child. The ID number stays empty: the file holds it
 *  masked, and an empty box means "unchanged". */
export function childToForm(c: ChildView): ChildFormValue {
  return {
    name: c.name, sex: c.sex, birth_date: c.birth_date, id_number: '',
    ethnicity: c.ethnicity ?? '', village_code: c.village_code,
    categories: [...c.categories],
    risk_colour: c.risk_colour, household_registered: c.household_registered !== false,
    current_address: c.current_address ?? '', guardianship_rating: c.guardianship_rating ?? '', notes: c.notes ?? '',
  };
}

/** The form pre-filled from a task's finding (`TaskDetail.register`): what the list
 *  says of the child, the ID number masked as the core sent it. */
export function newChildToForm(n: NewChild): ChildFormValue {
  return {
    ...emptyChild(n.village_code),
    name: n.name ?? '', sex: n.sex ?? '', birth_date: n.birth_date ?? '', id_number: n.id_number ?? '',
    categories: [...(n.categories ?? [])],
  };
}

const opt = (v: string) => (v.trim() === '' ? undefined : v.trim());

/** The `add_child` input (blanks left out). */
export function formToNewChild(v: ChildFormValue): NewChild {
  return {
    name: v.name.trim(), sex: v.sex as Sex, birth_date: v.birth_date,
    id_number: opt(v.id_number.toUpperCase()), ethnicity: opt(v.ethnicity), village_code: v.village_code,
    categories: v.categories as Category[], risk_colour: (v.risk_colour || undefined) as RiskColour | undefined, household_registered: v.household_registered,
    current_address: opt(v.current_address), guardianship_rating: (v.guardianship_rating || undefined) as GuardianshipRating | undefined, notes: opt(v.notes),
  };
}

/** Only the fields that changed, for `edit_child` (one change per edited field, so an
 *  edit on another phone to another field is not overwritten). A cleared optional
 *  field is sent as null. */
export function changedFields(before: ChildFormValue, after: ChildFormValue): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const optional = new Set(['ethnicity', 'current_address', 'guardianship_rating', 'notes', 'id_number']);
  for (const k of Object.keys(after) as (keyof ChildFormValue)[]) {
    if (k === 'id_number' && !after.id_number.trim()) continue; // blank: keep the stored one
    const a = after[k];
    if (JSON.stringify(a) === JSON.stringify(before[k])) continue;
    if (typeof a === 'string') {
      const v = k === 'id_number' ? a.trim().toUpperCase() : a.trim();
      out[k] = v === '' && optional.has(k) ? null : v;
    } else out[k] = a;
  }
  return out;
}
