// The care agreement's terms as the form edits them (domain::agreement::AgreementTerms)
// and who signs. Pure, tested in node; the core validates and renders the text.

import type { AgreementTerms, ChildFileView, GuardianView, PrincipalRelation } from './types';

export type Terms = AgreementTerms;

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

/** A new draft filled from the child's file: the child, the entrusted caregiver, and
 *  the parent who is away working. The ID numbers are not copied (the file holds them
 *  masked); the director types them if the family wants them in the agreement. */
export function prefillTerms(f: ChildFileView): Terms {
  const t = emptyTerms();
  t.child.name = f.child.name;
  t.child.birth_date = f.child.birth_date || null;
  t.child.school = f.child.school?.name ?? '';
  const care =
    f.guardians.find((g) => g.role === 'entrusted_caregiver') ?? f.guardians.find((g) => g.role === 'grandparent');
  if (care) {
    t.caregiver.name = care.name;
    t.caregiver.relationship = care.relationship ?? '';
    t.caregiver.phone = care.phone ?? '';
    t.caregiver.health = care.health ?? '';
    t.caregiver.address = care.address ?? f.child.current_address ?? '';
  }
  const away = (g: GuardianView) => g.whereabouts === 'away_working';
  const isParent = (g: GuardianView) => g.role === 'father' || g.role === 'mother';
  const parent = f.guardians.find((g) => isParent(g) && away(g)) ?? f.guardians.find(isParent);
  if (parent) {
    t.principal.name = parent.name;
    t.principal.relation = parent.role as PrincipalRelation;
    t.principal.phone = parent.phone ?? '';
    t.principal.work_location = parent.work_location ?? '';
    if (away(parent)) t.reason = '外出务工';
  }
  return t;
}

export type SignerRole = 'caregiver' | 'principal' | 'witness';
export interface Signer {
  role: SignerRole;
  name: string;
}

const ORDER: SignerRole[] = ['caregiver', 'principal', 'witness'];

/** Who signs, in order: the caregiver, the parent (甲方), the director as witness. The
 *  core says who must sign; a parent it does not require signs too when present. */
export function signersFor(t: Terms, required: string[], parentPresent: boolean): Signer[] {
  const roles = new Set(required.filter((r): r is SignerRole => (ORDER as string[]).includes(r)));
  if (parentPresent) roles.add('principal');
  const name = (r: SignerRole) =>
    r === 'caregiver' ? t.caregiver.name : r === 'principal' ? t.principal.name : t.witness.child_director || t.witness.village_committee;
  return ORDER.filter((r) => roles.has(r)).map((role) => ({ role, name: name(role) }));
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
