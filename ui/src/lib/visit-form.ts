// The visit form's state and rules, kept pure so they are tested in node. The core
// validates again (domain::visit); these rules only guide the director while typing.

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

/** An emergency makes the risk red and the mandatory report an action (domain rule). */
export function setEmergency(d: VisitDraft, on: boolean): VisitDraft {
  if (!on) return { ...d, emergency: false };
  const actions = d.actions.includes('mandatory_report') ? d.actions : [...d.actions, 'mandatory_report'];
  return { ...d, emergency: true, risk_colour: 'red', actions };
}

/** What is still missing before the visit can be saved: unchosen areas and the risk. */
export function missing(d: VisitDraft, areas: readonly ChecklistArea[]): { areas: ChecklistArea[]; risk: boolean; notes: ChecklistArea[] } {
  return {
    areas: areas.filter((a) => !d.checklist[a]?.status),
    risk: !d.risk_colour,
    notes: areas.filter((a) => d.checklist[a]?.status === 'abnormal' && !(d.checklist[a]?.note ?? '').trim()),
  };
}

export function isComplete(d: VisitDraft, areas: readonly ChecklistArea[]): boolean {
  const m = missing(d, areas);
  return m.areas.length === 0 && !m.risk;
}

const blankToUndef = (s: string) => (s.trim() === '' ? undefined : s.trim());

/** The command input for a complete draft. */
export function toNewVisit(child_id: string, d: VisitDraft, areas: readonly ChecklistArea[]): NewVisit {
  const checklist = {} as Checklist;
  for (const a of areas) {
    const item = d.checklist[a];
    const note = (item?.note ?? '').trim();
    checklist[a] = note ? { status: item?.status ?? 'normal', note } : { status: item?.status ?? 'normal' };
  }
  return {
    child_id,
    mode: d.mode as VisitMode,
    checklist,
    risk_colour: (d.risk_colour ?? '') as RiskColour,
    emergency: d.emergency,
    problems: blankToUndef(d.problems),
    actions: [...d.actions] as VisitAction[],
    next_due_on: blankToUndef(d.next_due_on),
    narrative: blankToUndef(d.narrative),
    people_present: blankToUndef(d.people_present),
    photo_ids: d.photos.map((p) => p.photo_id),
    draft_key: child_id,
    referral: d.actions.includes('referral') && d.referral.kind
      ? {
          child_id,
          kind: d.referral.kind as ReferralKind,
          receiving_body: d.referral.receiving_body.trim(),
          feedback_due_on: d.referral.feedback_due_on,
        }
      : undefined,
  };
}

/** The six areas in form order (domain::ChecklistArea), when the vocabulary is absent. */
export const AREAS: readonly ChecklistArea[] = ['living', 'guardianship', 'education', 'health', 'safety', 'mood'];
