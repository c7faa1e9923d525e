// The visit form's state, kept pure so it is tested in node. It holds no rule of the
// domain: what is missing or wrong is the device's answer to `check_draft` (which
// areas, a note for an abnormal one, an emergency's report and colour, a red child's
// next visit), shown where it belongs. The areas come from the device's vocabulary.

import type { Checklist, ChecklistArea, ItemStatus, NewVisit, ReferralKind, RiskColour, StagedPhotoView, VisitAction, VisitMode } from './types';

/** Everything on the form, as saved in the core's draft store on every change. */
export interface VisitDraft {
  mode: string;
  checklist: Partial<Record<ChecklistArea, { status?: ItemStatus; note?: string }>>;
  risk_colour?: string;
  emergency: boolean;
  problems: string;
  actions: string[];
  next_due_on: string;
  narrative: string;
  people_present: string;
  photos: StagedPhotoView[];
  /** The referral made on this visit, when the referral action is chosen. */
  referral: { kind: string; receiving_body: string; feedback_due_on: string };
}

export const DRAFT_KIND = 'visit';

export function emptyVisit(defaultMode: string): VisitDraft {
  return {
    mode: defaultMode,
    checklist: {},
    risk_colour: undefined,
    emergency: false,
    problems: '',
    actions: [],
    next_due_on: '',
    narrative: '',
    people_present: '',
    photos: [],
    referral: { kind: '', receiving_body: '', feedback_due_on: '' },
  };
}

/** A draft read back from the store, with defaults for anything an older draft lacks. */
export function restoreVisit(data: unknown, defaultMode: string): VisitDraft {
  const base = emptyVisit(defaultMode);
  if (!data || typeof data !== 'object') return base;
  const d = data as Partial<VisitDraft>;
  return {
    ...base,
    ...d,
    checklist: { ...(d.checklist ?? {}) },
    actions: Array.isArray(d.actions) ? [...d.actions] : [],
    photos: Array.isArray(d.photos) ? [...d.photos] : [],
    referral: { ...base.referral, ...(d.referral ?? {}) },
  };
}

/** Whether a draft holds anything the director entered (an untouched form is no draft). */
export function hasContent(d: VisitDraft): boolean {
  return (
    Object.keys(d.checklist).length > 0 ||
    !!d.risk_colour ||
    d.emergency ||
    d.actions.length > 0 ||
    d.photos.length > 0 ||
    [d.problems, d.next_due_on, d.narrative, d.people_present].some((s) => s.trim() !== '')
  );
}

/** Marks every area not yet chosen as normal (the "all normal" button). */
export function allNormal(d: VisitDraft, areas: readonly ChecklistArea[]): VisitDraft {
  const checklist = { ...d.checklist };
  for (const a of areas) {
    if (!checklist[a]?.status) checklist[a] = { ...checklist[a], status: 'normal' };
  }
  return { ...d, checklist };
}

const blankToUndef = (s: string) => (s.trim() === '' ? undefined : s.trim());

/** The form as `record_visit`'s arguments: only what the director chose (an area
 *  not chosen is left out, so the device says it is missing), trimmed, no blanks. The
 *  same object is what `check_draft` checks before the save. */
export function toNewVisit(child_id: string, d: VisitDraft, areas: readonly ChecklistArea[]): NewVisit {
  const checklist = {} as Checklist;
  for (const a of areas) {
    const item = d.checklist[a];
    if (!item?.status) continue;
    const note = (item.note ?? '').trim();
    checklist[a] = note ? { status: item.status, note } : { status: item.status };
  }
  return {
    child_id,
    mode: d.mode as VisitMode,
    checklist,
    risk_colour: (d.risk_colour || undefined) as RiskColour,
    emergency: d.emergency,
    problems: blankToUndef(d.problems),
    actions: [...d.actions] as VisitAction[],
    next_due_on: blankToUndef(d.next_due_on),
    narrative: blankToUndef(d.narrative),
    people_present: blankToUndef(d.people_present),
    photo_ids: d.photos.map((p) => p.photo_id),
    draft_key: child_id,
    referral: d.actions.includes('referral')
      ? {
          child_id,
          kind: d.referral.kind as ReferralKind,
          receiving_body: d.referral.receiving_body.trim(),
          feedback_due_on: d.referral.feedback_due_on,
        }
      : undefined,
  };
}

