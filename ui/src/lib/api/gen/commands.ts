// Generated from crates/field-app/src/commands.rs by `cargo test -p field-app --test typescript` (TONGHU_UPDATE_TS=1). Do not edit.
import type { AgreementDraftInput } from "./AgreementDraftInput";
import type { AgreementPreview } from "./AgreementPreview";
import type { AgreementSigned } from "./AgreementSigned";
import type { AgreementTextView } from "./AgreementTextView";
import type { AppState } from "./AppState";
import type { BlobRef } from "./BlobRef";
import type { ChangePinInput } from "./ChangePinInput";
import type { ChildFileView } from "./ChildFileView";
import type { ChildRef } from "./ChildRef";
import type { CloseReferral } from "./CloseReferral";
import type { ConsentNotice } from "./ConsentNotice";
import type { DeviceStatus } from "./DeviceStatus";
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
import type { RosterFilter } from "./RosterFilter";
import type { RosterItem } from "./RosterItem";
import type { Saved } from "./Saved";
import type { SettingsChange } from "./SettingsChange";
import type { SettingsView } from "./SettingsView";
import type { SignAgreement } from "./SignAgreement";
import type { SignConsent } from "./SignConsent";
import type { StagedPhotoView } from "./StagedPhotoView";
import type { SyncNowInput } from "./SyncNowInput";
import type { SyncState } from "./SyncState";
import type { VersionRef } from "./VersionRef";
import type { VisitSaved } from "./VisitSaved";
import type { Vocabulary } from "./Vocabulary";
import type { VoidVisit } from "./VoidVisit";

/** Every device command: its arguments and its answer. */
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
};

export type CommandName = keyof Commands;

/** Every command's name. */
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
