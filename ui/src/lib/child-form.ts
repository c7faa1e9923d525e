// The child form's fields ↔ the schema's (domain::child). Pure, tested in node.
import type { FileRow } from './types';

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

const s = (v: unknown) => (typeof v === 'string' ? v : '');

/** The form for an existing child. The ID number stays empty: the file holds it
 *  masked, and an empty box means "unchanged". */
export function childToForm(c: FileRow): ChildFormValue {
  return {
    name: s(c.name), sex: s(c.sex), birth_date: s(c.birth_date), id_number: '',
    ethnicity: s(c.ethnicity), village_code: s(c.village_code),
    categories: Array.isArray(c.categories) ? (c.categories as string[]) : [],
    risk_colour: s(c.risk_colour), household_registered: c.household_registered !== false,
    current_address: s(c.current_address), guardianship_rating: s(c.guardianship_rating), notes: s(c.notes),
  };
}

const opt = (v: string) => (v.trim() === '' ? null : v.trim());

/** Fields for `add_child` (every field; blanks as null). */
export function formToNewChild(v: ChildFormValue): Record<string, unknown> {
  return {
    name: v.name.trim(), sex: v.sex || null, birth_date: v.birth_date || null,
    id_number: opt(v.id_number.toUpperCase()), ethnicity: opt(v.ethnicity), village_code: v.village_code,
    categories: v.categories, risk_colour: v.risk_colour || null, household_registered: v.household_registered,
    current_address: opt(v.current_address), guardianship_rating: v.guardianship_rating || null, notes: opt(v.notes),
  };
}

/** Only the fields that changed, for `edit_child` (one change per edited field, so an
 *  edit on another phone to another field is not overwritten). */
export function changedFields(before: ChildFormValue, after: ChildFormValue): Record<string, unknown> {
  const all = formToNewChild(after);
  const old = formToNewChild(before);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(all)) {
    if (k === 'id_number' && !after.id_number.trim()) continue; // blank: keep the stored one
    if (JSON.stringify(all[k]) !== JSON.stringify(old[k])) out[k] = all[k];
  }
  return out;
}
