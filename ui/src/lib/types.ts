// The device API's data, as the UI reads it. These mirror crates/field-app/src/types.rs
// (the lead's device API, in progress); once its ts-rs output is committed, this file
// re-exports the generated declarations instead of spelling them out (see
// ui/API-REQUESTS.md and ARCHITECTURE.md).

export type Lang = 'zh' | 'en';

/** Every failure the core reports: a stable code and a sentence for people. */
export interface UserError {
  code: string;
  zh: string;
  en: string;
  field?: string | null;
}

export type Phase = 'needs_enrollment' | 'needs_pin' | 'locked' | 'unlocked';

export interface UnsyncedSummary {
  records: number;
  photos: number;
  as_of?: string;
}

export interface AppState {
  phase: Phase;
  enrolled: boolean;
  device_id?: string;
  server_url?: string;
  account_id?: string;
  role?: string;
  villages: string[];
  language: Lang;
  auto_lock_secs: number;
  failed_pin_attempts: number;
  /** Seconds before another PIN may be tried (0: now). */
  wait_secs: number;
  /** Wrong PINs in a row after which the device wipes its data. */
  wipe_after_attempts: number;
  migrating_plain_data: boolean;
  /** What a wipe would lose: records and photos not yet on the server. */
  unsynced: UnsyncedSummary;
  app_version: string;
}

export interface SettingsView {
  language: Lang;
  auto_lock_secs: number;
  auto_lock_choices: number[];
  device_id?: string;
  server_url?: string;
  account_id?: string;
  villages: string[];
  app_version: string;
  free_storage_bytes?: number;
  data_encrypted: boolean;
}

export interface Term {
  code: string;
  zh: string;
  en: string;
}

/** Every code list with its labels, from the core (never retyped in the UI). */
export interface Vocabulary {
  categories: Term[];
  sexes: Term[];
  risk_colours: Term[];
  guardianship_ratings: Term[];
  exit_reasons: Term[];
  assistance: Term[];
  guardian_roles: Term[];
  whereabouts: Term[];
  visit_modes: Term[];
  visit_actions: Term[];
  checklist_areas: Term[];
  item_statuses: Term[];
  signer_roles: Term[];
  principal_relations: Term[];
  renewals: Term[];
  referral_kinds: Term[];
  health_conditions: Term[];
  disability_types: Term[];
  school_stages: Term[];
  enrolments: Term[];
  task_kinds: Term[];
}
export type VocabList = keyof Vocabulary;

export type RiskColour = 'red' | 'yellow' | 'blue' | 'green';
export type DueState = 'overdue' | 'due_soon' | 'not_due';

export interface RosterFilter {
  search?: string;
  category?: string;
  risk_colour?: string;
  overdue_only: boolean;
  include_exited: boolean;
}

export interface RosterItem {
  child_id: string;
  name: string;
  village: string;
  categories: string[];
  risk_colour: string;
  last_visit_on?: string;
  last_visit_unsynced: boolean;
  next_due_on?: string;
  due_state?: DueState;
  due_days?: number;
  due_zh: string;
  due_en: string;
}

export interface TaskView {
  task_id: string;
  kind: string;
  title: string;
  due_on: string;
  child_id?: string;
  child_name?: string;
  village: string;
  overdue: boolean;
}

export interface DraftView {
  kind: string;
  key: string;
  data: unknown;
  updated_at: string;
  child_name?: string;
}

export interface Home {
  overdue: RosterItem[];
  due_soon: RosterItem[];
  tasks: TaskView[];
  drafts: DraftView[];
  children: number;
  sync: SyncState;
}

/** Where one record stands with the server. */
export type RecordSyncState =
  | { state: 'on_phone' }
  | { state: 'sent' }
  | { state: 'rejected'; code: string; zh: string; en: string; todo_zh: string; todo_en: string };

export interface Void {
  reason: string;
  by?: string;
  at?: string;
}

export interface ChildView {
  child_id: string;
  name: string;
  sex: string;
  ethnicity?: string | null;
  birth_date: string;
  /** Masked by the core. */
  id_number?: string | null;
  household_registered: boolean;
  registered_address?: string | null;
  current_address?: string | null;
  village_code: string;
  health?: { condition: string; disability_type?: string; disability_grade?: number; illness?: string } | null;
  school?: { enrolment: string; stage?: string; name?: string; boarding?: boolean } | null;
  categories: string[];
  guardianship_rating?: string | null;
  risk_colour: string;
  assistance?: string[] | null;
  status: string;
  exit_reason?: string | null;
  exit_date?: string | null;
  added_on: string;
  notes?: string | null;
  age: number;
  sync: RecordSyncState;
}

export interface GuardianView {
  guardian_id: string;
  child_id: string;
  role: string;
  name: string;
  id_number?: string | null;
  relationship?: string | null;
  phone?: string | null;
  whereabouts?: string | null;
  work_location?: string | null;
  health?: string | null;
  address?: string | null;
  sync: RecordSyncState;
}

export interface PhotoView {
  photo_id: string;
  blob_sha256: string;
  thumb_sha256: string;
  width: number;
  height: number;
  full_here: boolean;
  thumb_here: boolean;
  voided: boolean;
  sync: RecordSyncState;
}

export type ItemStatus = 'normal' | 'watch' | 'abnormal';
export type ChecklistArea = 'living' | 'guardianship' | 'education' | 'health' | 'safety' | 'mood';
export interface ChecklistItem {
  status: ItemStatus;
  note?: string;
}
export type Checklist = Record<ChecklistArea, ChecklistItem>;

export interface VisitView {
  visit_id: string;
  child_id: string;
  visited_at: string;
  mode: string;
  people_present?: string | null;
  visitor: string;
  checklist: Checklist;
  risk_colour: string;
  emergency: boolean;
  problems?: string | null;
  actions: string[];
  next_due_on?: string | null;
  narrative?: string | null;
  voided?: Void | null;
  photos: PhotoView[];
  sync: RecordSyncState;
}

export interface SignatureView {
  signature_id: string;
  signer_role: string;
  signer_name: string;
  image_sha256: string;
  signed_at: string;
  bound_to_text: boolean;
  sync: RecordSyncState;
}

export interface AgreementVersionView {
  version_id: string;
  draft_id: string;
  version: number;
  text_sha256: string;
  valid_from: string;
  valid_until: string;
  signed_at: string;
  expiring: boolean;
  expired: boolean;
  voided?: Void;
  signatures: SignatureView[];
  sync: RecordSyncState;
}

export interface AgreementDraftView {
  draft_id: string;
  status: string;
  terms: unknown;
  sync: RecordSyncState;
}

export interface ReferralView {
  referral_id: string;
  child_id: string;
  visit_id?: string | null;
  kind: string;
  receiving_body: string;
  referred_on: string;
  feedback_due_on: string;
  outcome?: string | null;
  closed_on?: string | null;
  feedback_overdue: boolean;
  sync: RecordSyncState;
}

export interface ConsentView {
  consent_id: string;
  signer_name: string;
  signer_role: string;
  notice_version: number;
  signed_at: string;
  sync: RecordSyncState;
}

export interface HistoryView {
  table: string;
  table_zh: string;
  field: string;
  field_zh: string;
  value: unknown;
  by_device: string;
  replaced_by_device: string;
  noted_at: string;
}

export interface ChildFileView {
  child: ChildView;
  guardians: GuardianView[];
  visits: VisitView[];
  agreement_drafts: AgreementDraftView[];
  agreements: AgreementVersionView[];
  referrals: ReferralView[];
  tasks: TaskView[];
  consents: ConsentView[];
  history: HistoryView[];
  needs_agreement: boolean;
  consent_signed: boolean;
}

export interface DrawnSignature {
  image_base64: string;
  /** `{w, h, strokes: [[[x, y, t], …], …]}` */
  strokes?: unknown;
}

export interface ConsentInput {
  signer_name: string;
  signer_role: string;
  signature: DrawnSignature;
}

export interface NewChild {
  name: string;
  sex: string;
  birth_date: string;
  id_number?: string;
  village_code: string;
  categories: string[];
  risk_colour?: string;
  ethnicity?: string;
  household_registered?: boolean;
  registered_address?: string;
  current_address?: string;
  guardianship_rating?: string;
  notes?: string;
  consent?: ConsentInput;
}

export interface NewGuardian {
  child_id: string;
  role: string;
  name: string;
  id_number?: string;
  relationship?: string;
  phone?: string;
  whereabouts?: string;
  work_location?: string;
  health?: string;
  address?: string;
}

export interface Saved {
  id: string;
  changed: number;
  saved_at: string;
}

export interface StagedPhotoView {
  photo_id: string;
  thumb_base64: string;
  width: number;
  height: number;
  bytes: number;
}

export interface ImageData {
  mime: string;
  base64: string;
}

export interface NewVisit {
  child_id: string;
  mode: string;
  visited_at?: string;
  people_present?: string;
  checklist: Checklist;
  risk_colour: string;
  emergency: boolean;
  problems?: string;
  actions: string[];
  next_due_on?: string;
  narrative?: string;
  photo_ids: string[];
  /** The draft this form was saved under: the core drops it with the save. */
  draft_key?: string;
}

export interface VisitSaved {
  visit_id: string;
  photo_ids: string[];
  referral_id?: string;
  saved_at: string;
}

export interface DraftSaved {
  saved_at: string;
}

export interface AgreementPreview {
  draft_id: string;
  version: number;
  text: string;
  sha256: string;
  /** What must be filled in before it can be signed (empty = ready). */
  problems: UserError[];
  /** Who must sign, in order. */
  signers: string[];
}

export interface SignerInput {
  role: string;
  name: string;
  signature: DrawnSignature;
}

export interface AgreementSigned {
  version_id: string;
  version: number;
  text_sha256: string;
  signature_ids: string[];
}

export interface AgreementTextView {
  version: AgreementVersionView;
  text: string;
  child_name: string;
}

export interface PdfFile {
  file_name: string;
  pdf_base64: string;
}

export interface ConsentNotice {
  version: number;
  zh: string;
  en: string;
  sha256: string;
}

export interface SyncProgressView {
  step?: 'push' | 'photos' | 'pull' | 'verify' | 'thumbnails';
  step_zh: string;
  step_en: string;
  records_done: number;
  records_total: number;
  bytes_done: number;
  bytes_total: number;
}

export interface RejectedView {
  device_seq: number;
  table: string;
  table_zh: string;
  table_en: string;
  row_id: string;
  child_id?: string;
  child_name?: string;
  field: string;
  field_zh: string;
  code: string;
  zh: string;
  en: string;
  todo_zh: string;
  todo_en: string;
  server_message: string;
  rejected_at: string;
}

export interface ClockWarning {
  offset_secs: number;
  zh: string;
  en: string;
}

export interface SyncState {
  enrolled: boolean;
  in_flight: boolean;
  progress?: SyncProgressView;
  /** The end of the last round that finished WITHOUT error (never an attempt). */
  last_success_at?: string;
  last_attempt_at?: string;
  last_error?: UserError;
  online?: boolean;
  next_try_secs?: number;
  pending_records: number;
  pending_changes: number;
  pending_photos: number;
  pending_bytes: number;
  oldest_pending_secs?: number;
  rejected: RejectedView[];
  clock_warning?: ClockWarning;
}
