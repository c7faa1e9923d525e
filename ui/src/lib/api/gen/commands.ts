// Generated from crates/field-app/src/commands.rs by `TONGHU_UPDATE_GENERATED=1 cargo test -p field-app --test generated`. Do not edit.
import type { AgreementDraftInput } from "./AgreementDraftInput";
import type { AgreementPreview } from "./AgreementPreview";
import type { AgreementSigned } from "./AgreementSigned";
import type { AgreementTextView } from "./AgreementTextView";
import type { AppState } from "./AppState";
import type { BlobRef } from "./BlobRef";
import type { ChangePinInput } from "./ChangePinInput";
import type { CheckDraft } from "./CheckDraft";
import type { ChildFileView } from "./ChildFileView";
import type { ChildRef } from "./ChildRef";
import type { CloseReferral } from "./CloseReferral";
import type { CloseTask } from "./CloseTask";
import type { ConsentNotice } from "./ConsentNotice";
import type { DeviceStatus } from "./DeviceStatus";
import type { DraftCheck } from "./DraftCheck";
import type { DraftId } from "./DraftId";
import type { DraftInput } from "./DraftInput";
import type { DraftRef } from "./DraftRef";
import type { DraftSaved } from "./DraftSaved";
import type { DraftView } from "./DraftView";
import type { EditChild } from "./EditChild";
import type { EditGuardian } from "./EditGuardian";
import type { Empty } from "./Empty";
import type { EnrollInput } from "./EnrollInput";
import type { Home } from "./Home";
import type { ImageData } from "./ImageData";
import type { InitInput } from "./InitInput";
import type { JsonValue } from "./serde_json/JsonValue";
import type { NewChild } from "./NewChild";
import type { NewGuardian } from "./NewGuardian";
import type { NewReferral } from "./NewReferral";
import type { NewVisit } from "./NewVisit";
import type { PdfFile } from "./PdfFile";
import type { PhotoInput } from "./PhotoInput";
import type { PhotoRef } from "./PhotoRef";
import type { PinInput } from "./PinInput";
import type { RecordInput } from "./RecordInput";
import type { RejectedRef } from "./RejectedRef";
import type { ReplacedRef } from "./ReplacedRef";
import type { RosterFilter } from "./RosterFilter";
import type { RosterItem } from "./RosterItem";
import type { Saved } from "./Saved";
import type { SavedPdf } from "./SavedPdf";
import type { SettingsChange } from "./SettingsChange";
import type { SettingsView } from "./SettingsView";
import type { SignAgreement } from "./SignAgreement";
import type { SignConsent } from "./SignConsent";
import type { StagedPhotoView } from "./StagedPhotoView";
import type { SyncNowInput } from "./SyncNowInput";
import type { SyncProgressView } from "./SyncProgressView";
import type { SyncState } from "./SyncState";
import type { TaskDetail } from "./TaskDetail";
import type { TaskFilter } from "./TaskFilter";
import type { TaskRef } from "./TaskRef";
import type { TaskView } from "./TaskView";
import type { VersionRef } from "./VersionRef";
import type { VisitSaved } from "./VisitSaved";
import type { Vocabulary } from "./Vocabulary";
import type { VoidVisit } from "./VoidVisit";

/** Every command, the device's and the app shell's: its arguments and its answer. */
export type Commands = {
  /** Where the app is: enroll, choose a PIN, unlock, or working. */
  app_state: { args: Empty; result: AppState };
  /** Enroll this phone with the server address and one-time code. */
  enroll: { args: EnrollInput; result: AppState };
  /** Choose the PIN (encrypts the phone's data with a key it wraps). */
  set_pin: { args: PinInput; result: AppState };
  /** Unlock with the PIN. */
  unlock: { args: PinInput; result: AppState };
  /** Lock now. */
  lock: { args: Empty; result: AppState };
  /** Change the PIN. */
  change_pin: { args: ChangePinInput; result: AppState };
  /** A touch on the screen: keeps the app unlocked. */
  keep_alive: { args: Empty; result: Empty };
  /** The settings screen. */
  settings: { args: Empty; result: SettingsView };
  /** Change the language or the auto-lock delay. */
  update_settings: { args: SettingsChange; result: SettingsView };
  /** Every code list with its Chinese and English names. */
  vocabulary: { args: Empty; result: Vocabulary };
  /** Today's work. */
  home: { args: Empty; result: Home };
  /** The roster, most urgent first, filtered. */
  roster: { args: RosterFilter; result: Array<RosterItem> };
  /** A child's whole file (一人一档). */
  child_file: { args: ChildRef; result: ChildFileView };
  /** Register a child (with the guardian's signed acknowledgement of the notice). */
  add_child: { args: NewChild; result: Saved };
  /** Change a child's details. */
  edit_child: { args: EditChild; result: Saved };
  /** The tasks on this phone: open ones (or all), overdue and longest waiting first. */
  tasks: { args: TaskFilter; result: Array<TaskView> };
  /** One task: the finding behind it (which list, which month, who was matched), how it stands, the register form pre-filled from it, the outcomes it may close with. */
  task: { args: TaskRef; result: TaskDetail };
  /** Close a task as linked to a child on file, not eligible (with the reason), or not found / moved away (with a note). Registering the child is `add_child` with the task's id. */
  close_task: { args: CloseTask; result: Saved };
  /** Soft-delete a child's file (kept for the audit trail). */
  delete_child: { args: ChildRef; result: Saved };
  /** Add a parent, grandparent or entrusted caregiver. */
  add_guardian: { args: NewGuardian; result: Saved };
  /** Change a guardian's details. */
  edit_guardian: { args: EditGuardian; result: Saved };
  /** Any synced table by field names (scripts). */
  add_record: { args: RecordInput; result: Saved };
  /** The registration notice to read to the guardian. */
  consent_notice: { args: Empty; result: ConsentNotice };
  /** Keep a guardian's acknowledgement of the notice. */
  sign_consent: { args: SignConsent; result: Saved };
  /** Put a photo through the pipeline and keep it for the visit being recorded. */
  stage_photo: { args: PhotoInput; result: StagedPhotoView };
  /** Throw a staged photo away. */
  discard_photo: { args: PhotoRef; result: Empty };
  /** An image held on the phone, by hash. */
  photo: { args: BlobRef; result: ImageData };
  /** Record a visit with its photos (and a referral made on it). */
  record_visit: { args: NewVisit; result: VisitSaved };
  /** Void a visit recorded by mistake. */
  void_visit: { args: VoidVisit; result: Saved };
  /** Every problem of a visit, registration or agreement form at once (blocking or a warning), and what the device fills in — before anything is saved or signed. */
  check_draft: { args: CheckDraft; result: DraftCheck };
  /** Put back a value another phone's edit replaced (a new edit, through the change log). */
  restore_replaced_value: { args: ReplacedRef; result: Saved };
  /** Keep what a record holds now after another phone's edit (home no longer shows it). */
  keep_current_value: { args: ReplacedRef; result: Empty };
  /** Save a form's fields as they are now. */
  save_draft: { args: DraftInput; result: DraftSaved };
  /** A form's draft, if one was saved. */
  get_draft: { args: DraftRef; result: DraftView | null };
  /** Throw a draft away. */
  discard_draft: { args: DraftRef; result: Empty };
  /** Make a referral. */
  add_referral: { args: NewReferral; result: Saved };
  /** Close a referral with its outcome. */
  close_referral: { args: CloseReferral; result: Saved };
  /** Create or edit a care agreement draft. */
  save_agreement_draft: { args: AgreementDraftInput; result: Saved };
  /** The full text a draft would be signed with. */
  agreement_preview: { args: DraftId; result: AgreementPreview };
  /** Sign a draft (the text read, by its hash) with every signer's signature. */
  sign_agreement: { args: SignAgreement; result: AgreementSigned };
  /** A signed agreement's locked text and signatures. */
  agreement: { args: VersionRef; result: AgreementTextView };
  /** The printable copy of a signed agreement for the family (PDF). */
  agreement_pdf: { args: VersionRef; result: PdfFile };
  /** What the sync screen and badge show. */
  sync_state: { args: Empty; result: SyncState };
  /** Sync now. */
  sync_now: { args: SyncNowInput; result: SyncState };
  /** Take a rejected change off the list after acting on it. */
  acknowledge_rejected: { args: RejectedRef; result: SyncState };
  /** The device's raw sync counters. */
  status: { args: Empty; result: DeviceStatus };
  /** Villages of a phone that is not enrolled (offline tests and demos). */
  init: { args: InitInput; result: DeviceStatus };
  /** The whole synced state as canonical JSON. */
  export: { args: Empty; result: JsonValue };
  /** Per-village checksums. */
  checksums: { args: Empty; result: JsonValue };
  /** `agreement_pdf` kept as a new file (Downloads, else Documents) and opened for printing: a webview can neither download nor open a PDF itself. The Tauri app. */
  save_agreement_pdf: { args: VersionRef; result: SavedPdf };
};

export type CommandName = keyof Commands;

/** The device's commands (every shell offers them). */
export const COMMANDS: CommandName[] = [
  "app_state",
  "enroll",
  "set_pin",
  "unlock",
  "lock",
  "change_pin",
  "keep_alive",
  "settings",
  "update_settings",
  "vocabulary",
  "home",
  "roster",
  "child_file",
  "add_child",
  "edit_child",
  "tasks",
  "task",
  "close_task",
  "delete_child",
  "add_guardian",
  "edit_guardian",
  "add_record",
  "consent_notice",
  "sign_consent",
  "stage_photo",
  "discard_photo",
  "photo",
  "record_visit",
  "void_visit",
  "check_draft",
  "restore_replaced_value",
  "keep_current_value",
  "save_draft",
  "get_draft",
  "discard_draft",
  "add_referral",
  "close_referral",
  "save_agreement_draft",
  "agreement_preview",
  "sign_agreement",
  "agreement",
  "agreement_pdf",
  "sync_state",
  "sync_now",
  "acknowledge_rejected",
  "status",
  "init",
  "export",
  "checksums",
];

/** The commands only the app shell (Tauri) offers. */
export const SHELL_COMMANDS: CommandName[] = [
  "save_agreement_pdf",
];

/** How a command reaches the core (Tauri's invoke, or the bridge). */
export type Call = <K extends CommandName>(name: K, args: Commands[K]['args']) => Promise<Commands[K]['result']>;

/** One typed function per command, each sending its arguments through `call`. */
export function deviceApi(call: Call) {
  return {
    /** Where the app is: enroll, choose a PIN, unlock, or working. */
    appState: (args: Empty = {}): Promise<AppState> => call("app_state", args),
    /** Enroll this phone with the server address and one-time code. */
    enroll: (args: EnrollInput): Promise<AppState> => call("enroll", args),
    /** Choose the PIN (encrypts the phone's data with a key it wraps). */
    setPin: (args: PinInput): Promise<AppState> => call("set_pin", args),
    /** Unlock with the PIN. */
    unlock: (args: PinInput): Promise<AppState> => call("unlock", args),
    /** Lock now. */
    lock: (args: Empty = {}): Promise<AppState> => call("lock", args),
    /** Change the PIN. */
    changePin: (args: ChangePinInput): Promise<AppState> => call("change_pin", args),
    /** A touch on the screen: keeps the app unlocked. */
    keepAlive: (args: Empty = {}): Promise<Empty> => call("keep_alive", args),
    /** The settings screen. */
    settings: (args: Empty = {}): Promise<SettingsView> => call("settings", args),
    /** Change the language or the auto-lock delay. */
    updateSettings: (args: SettingsChange = {}): Promise<SettingsView> => call("update_settings", args),
    /** Every code list with its Chinese and English names. */
    vocabulary: (args: Empty = {}): Promise<Vocabulary> => call("vocabulary", args),
    /** Today's work. */
    home: (args: Empty = {}): Promise<Home> => call("home", args),
    /** The roster, most urgent first, filtered. */
    roster: (args: RosterFilter = {}): Promise<Array<RosterItem>> => call("roster", args),
    /** A child's whole file (一人一档). */
    childFile: (args: ChildRef): Promise<ChildFileView> => call("child_file", args),
    /** Register a child (with the guardian's signed acknowledgement of the notice). */
    addChild: (args: NewChild): Promise<Saved> => call("add_child", args),
    /** Change a child's details. */
    editChild: (args: EditChild): Promise<Saved> => call("edit_child", args),
    /** The tasks on this phone: open ones (or all), overdue and longest waiting first. */
    tasks: (args: TaskFilter = {}): Promise<Array<TaskView>> => call("tasks", args),
    /** One task: the finding behind it (which list, which month, who was matched), how it stands, the register form pre-filled from it, the outcomes it may close with. */
    task: (args: TaskRef): Promise<TaskDetail> => call("task", args),
    /** Close a task as linked to a child on file, not eligible (with the reason), or not found / moved away (with a note). Registering the child is `add_child` with the task's id. */
    closeTask: (args: CloseTask): Promise<Saved> => call("close_task", args),
    /** Soft-delete a child's file (kept for the audit trail). */
    deleteChild: (args: ChildRef): Promise<Saved> => call("delete_child", args),
    /** Add a parent, grandparent or entrusted caregiver. */
    addGuardian: (args: NewGuardian): Promise<Saved> => call("add_guardian", args),
    /** Change a guardian's details. */
    editGuardian: (args: EditGuardian): Promise<Saved> => call("edit_guardian", args),
    /** Any synced table by field names (scripts). */
    addRecord: (args: RecordInput): Promise<Saved> => call("add_record", args),
    /** The registration notice to read to the guardian. */
    consentNotice: (args: Empty = {}): Promise<ConsentNotice> => call("consent_notice", args),
    /** Keep a guardian's acknowledgement of the notice. */
    signConsent: (args: SignConsent): Promise<Saved> => call("sign_consent", args),
    /** Put a photo through the pipeline and keep it for the visit being recorded. */
    stagePhoto: (args: PhotoInput): Promise<StagedPhotoView> => call("stage_photo", args),
    /** Throw a staged photo away. */
    discardPhoto: (args: PhotoRef): Promise<Empty> => call("discard_photo", args),
    /** An image held on the phone, by hash. */
    photo: (args: BlobRef): Promise<ImageData> => call("photo", args),
    /** Record a visit with its photos (and a referral made on it). */
    recordVisit: (args: NewVisit): Promise<VisitSaved> => call("record_visit", args),
    /** Void a visit recorded by mistake. */
    voidVisit: (args: VoidVisit): Promise<Saved> => call("void_visit", args),
    /** Every problem of a visit, registration or agreement form at once (blocking or a warning), and what the device fills in — before anything is saved or signed. */
    checkDraft: (args: CheckDraft): Promise<DraftCheck> => call("check_draft", args),
    /** Put back a value another phone's edit replaced (a new edit, through the change log). */
    restoreReplacedValue: (args: ReplacedRef): Promise<Saved> => call("restore_replaced_value", args),
    /** Keep what a record holds now after another phone's edit (home no longer shows it). */
    keepCurrentValue: (args: ReplacedRef): Promise<Empty> => call("keep_current_value", args),
    /** Save a form's fields as they are now. */
    saveDraft: (args: DraftInput): Promise<DraftSaved> => call("save_draft", args),
    /** A form's draft, if one was saved. */
    getDraft: (args: DraftRef): Promise<DraftView | null> => call("get_draft", args),
    /** Throw a draft away. */
    discardDraft: (args: DraftRef): Promise<Empty> => call("discard_draft", args),
    /** Make a referral. */
    addReferral: (args: NewReferral): Promise<Saved> => call("add_referral", args),
    /** Close a referral with its outcome. */
    closeReferral: (args: CloseReferral): Promise<Saved> => call("close_referral", args),
    /** Create or edit a care agreement draft. */
    saveAgreementDraft: (args: AgreementDraftInput): Promise<Saved> => call("save_agreement_draft", args),
    /** The full text a draft would be signed with. */
    agreementPreview: (args: DraftId): Promise<AgreementPreview> => call("agreement_preview", args),
    /** Sign a draft (the text read, by its hash) with every signer's signature. */
    signAgreement: (args: SignAgreement): Promise<AgreementSigned> => call("sign_agreement", args),
    /** A signed agreement's locked text and signatures. */
    agreement: (args: VersionRef): Promise<AgreementTextView> => call("agreement", args),
    /** The printable copy of a signed agreement for the family (PDF). */
    agreementPdf: (args: VersionRef): Promise<PdfFile> => call("agreement_pdf", args),
    /** What the sync screen and badge show. */
    syncState: (args: Empty = {}): Promise<SyncState> => call("sync_state", args),
    /** Sync now. */
    syncNow: (args: SyncNowInput = {}): Promise<SyncState> => call("sync_now", args),
    /** Take a rejected change off the list after acting on it. */
    acknowledgeRejected: (args: RejectedRef): Promise<SyncState> => call("acknowledge_rejected", args),
    /** The device's raw sync counters. */
    status: (args: Empty = {}): Promise<DeviceStatus> => call("status", args),
    /** Villages of a phone that is not enrolled (offline tests and demos). */
    init: (args: InitInput = {}): Promise<DeviceStatus> => call("init", args),
    /** The whole synced state as canonical JSON. */
    export: (args: Empty = {}): Promise<JsonValue> => call("export", args),
    /** Per-village checksums. */
    checksums: (args: Empty = {}): Promise<JsonValue> => call("checksums", args),
    /** `agreement_pdf` kept as a new file (Downloads, else Documents) and opened for printing: a webview can neither download nor open a PDF itself. The Tauri app. */
    saveAgreementPdf: (args: VersionRef): Promise<SavedPdf> => call("save_agreement_pdf", args),
  };
}

/** Every event the core pushes, with its data. */
export type Events = {
  /** The app locked, unlocked, enrolled, was wiped… */
  app_state: AppState;
  /** Sync state changed (a round started or ended, records were saved). */
  sync_state: SyncState;
  /** A round in flight moved on (or waits before a retry). */
  sync_progress: SyncProgressView;
};

export type EventName = keyof Events;

/** Every event's name. */
export const EVENTS: EventName[] = [
  "app_state",
  "sync_state",
  "sync_progress",
];
