// The care agreement's terms as the form edits them (domain::agreement::AgreementTerms)
// and who signs. Pure, tested in node; the core validates and renders the text.

import type { ChildFile, FileRow } from './types';

export interface Terms {
  principal: { name: string; relation: string | null; id_number: string; phone: string; work_location: string };
  caregiver: { name: string; id_number: string; relationship: string; health: string; address: string; phone: string };
  witness: { village_committee: string; child_director: string };
  child: { name: string; birth_date: string | null; school: string; special_needs: string };
  reason: string;
  period_start: string | null;
  period_end: string | null;
  renewal: string;
  emergency_contacts: { name: string; relationship: string; phone: string }[];
  medical_authority: boolean;
  weekly_contact_promise: boolean;
  caregiver_declaration: boolean;
  child_view: string;
}

export function emptyTerms(): Terms {
  return {
    principal: { name: '', relation: null, id_number: '', phone: '', work_location: '' },
    caregiver: { name: '', id_number: '', relationship: '', health: '', address: '', phone: '' },
    witness: { village_committee: '', child_director: '' },
    child: { name: '', birth_date: null, school: '', special_needs: '' },
    reason: '',
    period_start: null,
    period_end: null,
    renewal: 'new_agreement',
    emergency_contacts: [],
    medical_authority: false,
    weekly_contact_promise: false,
    caregiver_declaration: false,
    child_view: '',
  };
}

const s = (v: unknown) => (typeof v === 'string' ? v : '');

/** A new draft filled from the child's file: the child, the entrusted caregiver, and
 *  the parent who is away working. The ID numbers are not copied (the file holds them
 *  masked); the director types them if the family wants them in the agreement. */
export function prefillTerms(f: ChildFile): Terms {
  const t = emptyTerms();
  t.child.name = s(f.child.name);
  t.child.birth_date = s(f.child.birth_date) || null;
  const school = f.child.school as { name?: string } | null | undefined;
  t.child.school = school?.name ?? '';
  const care = f.guardians.find((g) => g.role === 'entrusted_caregiver') ?? f.guardians.find((g) => g.role === 'grandparent');
  if (care) {
    t.caregiver.name = s(care.name);
    t.caregiver.relationship = s(care.relationship);
    t.caregiver.phone = s(care.phone);
    t.caregiver.address = s(care.address) || s(f.child.current_address);
  }
  const away = (g: FileRow) => g.whereabouts === 'away_working';
  const parent =
    f.guardians.find((g) => (g.role === 'father' || g.role === 'mother') && away(g)) ??
    f.guardians.find((g) => g.role === 'father' || g.role === 'mother');
  if (parent) {
    t.principal.name = s(parent.name);
    t.principal.relation = parent.role === 'father' || parent.role === 'mother' ? String(parent.role) : null;
    t.principal.phone = s(parent.phone);
    t.principal.work_location = s(parent.work_location);
    if (away(parent)) t.reason = '外出务工';
  }
  return t;
}

export interface Signer {
  role: 'caregiver' | 'principal' | 'witness';
  name: string;
}

/** Who signs, in order: the caregiver, the parent (甲方) if present, the director as
 *  witness. */
export function signersFor(t: Terms, parentPresent: boolean): Signer[] {
  const out: Signer[] = [{ role: 'caregiver', name: t.caregiver.name }];
  if (parentPresent) out.push({ role: 'principal', name: t.principal.name });
  out.push({ role: 'witness', name: t.witness.child_director || t.witness.village_committee });
  return out;
}

/** The terms as the core reads them: an empty date is `null`, not "". */
export function normalizeTerms(t: Terms): Terms {
  const d = (v: string | null) => (v && v.trim() ? v : null);
  return {
    ...t,
    child: { ...t.child, birth_date: d(t.child.birth_date) },
    period_start: d(t.period_start),
    period_end: d(t.period_end),
  };
}
