// The device API's data, as the UI reads it. Until the lead's `crates/field-app`
// generates these with ts-rs, they follow the sketch in the UI brief; when the
// generated types land, this file re-exports them instead (see ARCHITECTURE.md).

export type Lang = 'zh' | 'en';

/** Every failure the core reports: a stable code and a sentence for people. */
export interface UserError {
  code: string;
  zh: string;
  en: string;
  field?: string | null;
}

export type Phase = 'needs_enrollment' | 'needs_pin' | 'locked' | 'unlocked';

export interface AppState {
  phase: Phase;
  device_id: string;
  server_url?: string | null;
  villages: string[];
  language: Lang;
  auto_lock_secs: number;
  failed_pin_attempts: number;
  /** Seconds before another PIN may be tried (0: now). */
  wait_secs: number;
  /** Wrong PINs in a row after which the device wipes its data. */
  wipe_after_attempts: number;
  /** What a wipe would lose: records and photos not yet on the server. */
  unsynced: { records: number; photos: number };
}

export type RiskColour = 'red' | 'yellow' | 'blue' | 'green';
export type DueState = 'overdue' | 'due_soon' | 'not_due';

export interface RosterEntry {
  child_id: string;
  name: string;
  village: string;
  categories: string[];
  risk_colour: RiskColour | string;
  last_visit_on?: string | null;
  last_visit_unsynced: boolean;
  next_due_on?: string | null;
  due_state?: DueState | null;
  due_days?: number | null;
}

export interface RosterFilter {
  search?: string;
  category?: string;
  risk_colour?: string;
  overdue_only: boolean;
  include_exited: boolean;
}

export interface Task {
  id: string;
  child_id?: string | null;
  kind: string;
  title: string;
  details?: string | null;
  due_on?: string | null;
}

export interface RejectedRecord {
  /** Which record: table and row, with the field the server refused. */
  table: string;
  row_id: string;
  field?: string | null;
  child_id?: string | null;
  child_name?: string | null;
  code: string;
  /** The server's reason, in plain Chinese, and in English. */
  zh: string;
  en: string;
  /** What the director can do about it. */
  action_zh?: string | null;
  action_en?: string | null;
  rejected_at?: string | null;
}

export interface SyncProgress {
  phase: string;
  records_done: number;
  records_total: number;
  bytes_done: number;
  bytes_total: number;
}

export interface SyncState {
  in_flight: boolean;
  progress?: SyncProgress | null;
  last_success_at?: string | null;
  last_attempt_at?: string | null;
  last_error?: UserError | null;
  online?: boolean | null;
  pending_records: number;
  pending_photos: number;
  pending_bytes: number;
  rejected: RejectedRecord[];
  clock_warning?: { offset_secs: number; zh: string; en: string } | null;
}

export interface Home {
  overdue: RosterEntry[];
  due_soon: RosterEntry[];
  tasks: Task[];
  sync: SyncState;
}

/** Where one record stands with the server. */
export interface RecordSync {
  state: 'local' | 'sent' | 'rejected';
  zh?: string | null;
  en?: string | null;
}

/** One row of a child's file: its id, sync state and fields as the schema names them. */
export interface FileRow {
  id: string;
  sync?: RecordSync | null;
  [field: string]: unknown;
}

export interface HistoryEntry {
  table: string;
  row_id: string;
  field: string;
  value: unknown;
  device_id: string;
  winner_device: string;
  noted_at: string;
}

export interface ChildFile {
  child: FileRow;
  village: string;
  guardians: FileRow[];
  visits: FileRow[];
  photos: FileRow[];
  agreement_drafts: FileRow[];
  agreement_versions: FileRow[];
  signatures: FileRow[];
  referrals: FileRow[];
  tasks: FileRow[];
  history: HistoryEntry[];
}

export interface StagedPhoto {
  photo_id: string;
  thumb_base64: string;
  width: number;
  height: number;
  bytes: number;
}

export type ItemStatus = 'normal' | 'watch' | 'abnormal';
export type ChecklistArea = 'living' | 'guardianship' | 'education' | 'health' | 'safety' | 'mood';
export interface ChecklistItem {
  status: ItemStatus;
  note?: string;
}
export type Checklist = Record<ChecklistArea, ChecklistItem>;

export interface NewVisit {
  child_id: string;
  mode: string;
  checklist: Checklist;
  risk_colour: string;
  emergency: boolean;
  problems?: string;
  actions: string[];
  next_due_on?: string;
  narrative?: string;
  people_present?: string;
  photo_ids: string[];
}

export interface VisitReceipt {
  visit_id: string;
  photo_ids: string[];
}

export interface Draft<T = unknown> {
  kind: string;
  key: string;
  data: T;
  saved_at?: string | null;
}

export interface AgreementPreview {
  text: string;
  sha256: string;
}

/** A finger signature: the image (PNG) and the strokes it was drawn with. */
export interface SignatureInput {
  role: string;
  name: string;
  image_base64: string;
  strokes: unknown;
}

export interface SignedAgreement {
  version_id: string;
  version?: number;
  signature_ids?: string[];
}

export interface AgreementPdf {
  pdf_base64: string;
  file_name: string;
}

export interface Settings {
  language: Lang;
  auto_lock_secs: number;
  device_id: string;
  device_name?: string | null;
  server_url?: string | null;
  villages: string[];
  app_version?: string | null;
}

export interface CodeLabel {
  code: string;
  zh: string;
  en: string;
}

/** Every code list with its labels, from the core (never retyped in the UI). */
export type Vocabulary = Record<string, CodeLabel[]>;

export interface NoticeAcknowledgement {
  notice_sha256: string;
  signer_role: string;
  signer_name: string;
  image_base64: string;
  strokes: unknown;
}
