//! The one list of commands every shell offers, and the one place that dispatches a
//! command to the device: the Tauri `invoke` handler, the HTTP bridge and `fieldctl`
//! all call [`DeviceApp::call`] (or [`DeviceApp::dispatch`] with a typed [`Request`]).
//!
//! The list also generates the TypeScript the UI imports (`ui/src/lib/api/gen/`): one
//! declaration per input and answer type, and `commands.ts` mapping every command name
//! to its argument and result types, so the UI's `call("roster", {...})` is typed from
//! the Rust definitions and never retyped by hand.

use crate::app::DeviceApp;
use crate::error::UserError;
use crate::types::*;
use serde_json::Value;

macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident => $variant:ident ( $args:ty ) -> $out:ty $([$passive:ident])? ;
    )*) => {
        /// A command with its typed arguments.
        #[derive(Debug)]
        pub enum Request {
            $( $(#[doc = $doc])* $variant($args), )*
        }

        /// Every command's name, as the shells and the UI call it.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        impl Request {
            /// Reads a command by name with its arguments as JSON (absent or `null`
            /// arguments are read as `{}`).
            pub fn parse(name: &str, args: Value) -> Result<Request, UserError> {
                let args = if args.is_null() { Value::Object(Default::default()) } else { args };
                match name {
                    $( stringify!($name) => serde_json::from_value::<$args>(args)
                        .map(Request::$variant)
                        .map_err(UserError::bad_request), )*
                    other => Err(UserError::new(
                        "unknown_command",
                        "应用内部出错（未知的操作），请升级应用",
                        format!("unknown command {:?}", other.chars().take(60).collect::<String>()),
                    )),
                }
            }

            /// The command's name.
            pub fn name(&self) -> &'static str {
                match self { $( Request::$variant(_) => stringify!($name), )* }
            }

            /// Whether the command is a user's action (which keeps the app from
            /// locking itself), rather than a screen reading state.
            pub fn is_activity(&self) -> bool {
                match self { $( Request::$variant(_) => commands!(@activity $($passive)?), )* }
            }
        }

        impl DeviceApp {
            /// Runs one command. The answer is the command's result type as JSON.
            pub fn dispatch(&self, req: Request) -> Result<Value, UserError> {
                if req.is_activity() {
                    self.session().last_activity = std::time::Instant::now();
                }
                match req {
                    $( Request::$variant(a) => self.$name(a).and_then(|r| {
                        serde_json::to_value(r).map_err(|e| UserError::new(
                            "internal", "应用内部出错，请重试", e.to_string()))
                    }), )*
                }
            }
        }

        /// `commands.ts`: the command map the UI's typed `call` uses.
        pub fn typescript_command_map() -> String {
            use ts_rs::TS;
            let cfg = ts_rs::Config::new().with_large_int("number");
            let mut imports = std::collections::BTreeSet::new();
            let mut map = String::new();
            $(
                {
                    let args = <$args as TS>::name(&cfg);
                    let out = <$out as TS>::name(&cfg);
                    for dep in [&args, &out] {
                        collect_idents(dep, &mut imports);
                    }
                    let doc: &[&str] = &[$($doc),*];
                    if !doc.is_empty() {
                        map.push_str(&format!("  /**{} */\n", doc.join(" ").replace("*/", "* /")));
                    }
                    map.push_str(&format!("  {}: {{ args: {}; result: {} }};\n", stringify!($name), args, out));
                }
            )*
            let mut out = String::from("// Generated from crates/field-app/src/commands.rs by `cargo test -p field-app --test typescript` (TONGHU_UPDATE_TS=1). Do not edit.\n");
            for i in &imports {
                let path = if i == "JsonValue" { "serde_json/JsonValue".to_string() } else { i.clone() };
                out.push_str(&format!("import type {{ {i} }} from \"./{path}\";\n"));
            }
            out.push_str("\n/** Every device command: its arguments and its answer. */\nexport type Commands = {\n");
            out.push_str(&map);
            out.push_str("};\n\nexport type CommandName = keyof Commands;\n\n/** Every command's name. */\nexport const COMMANDS: CommandName[] = [\n");
            $( out.push_str(&format!("  \"{}\",\n", stringify!($name))); )*
            out.push_str("];\n");
            out
        }

        /// Writes every command's argument and result types (and what they use) as
        /// TypeScript declarations into `dir`, one file per type.
        pub fn export_typescript(dir: &std::path::Path) -> Result<(), String> {
            use ts_rs::TS;
            let cfg = ts_rs::Config::new().with_large_int("number").with_out_dir(dir);
            $( <$args as TS>::export_all(&cfg).map_err(|e| e.to_string())?;
               export_out::<$out>(&cfg)?; )*
            <AppEvent as TS>::export_all(&cfg).map_err(|e| e.to_string())?;
            <crate::types::CodeLists as TS>::export_all(&cfg).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("commands.ts"), typescript_command_map()).map_err(|e| e.to_string())
        }
    };
    (@activity passive) => { false };
    (@activity) => { true };
}

/// Exports a result type, or the types inside it when it is a list or an option.
fn export_out<T: ts_rs::TS + 'static + ?Sized>(cfg: &ts_rs::Config) -> Result<(), String> {
    if T::output_path().is_some() {
        T::export_all(cfg).map_err(|e| e.to_string())
    } else {
        // Vec<X>, Option<X>, Value: export what they contain.
        struct Exporter<'a>(&'a ts_rs::Config, Result<(), String>);
        impl ts_rs::TypeVisitor for Exporter<'_> {
            fn visit<U: ts_rs::TS + 'static + ?Sized>(&mut self) {
                if self.1.is_ok() && U::output_path().is_some() {
                    self.1 = U::export_all(self.0).map_err(|e| e.to_string());
                }
            }
        }
        let mut v = Exporter(cfg, Ok(()));
        T::visit_dependencies(&mut v);
        T::visit_generics(&mut v);
        v.1
    }
}

/// The exported type names a TypeScript type expression uses (`Array<RosterItem>` →
/// `RosterItem`).
fn collect_idents(ty: &str, out: &mut std::collections::BTreeSet<String>) {
    const BUILTIN: &[&str] = &[
        "Array", "Record", "string", "number", "boolean", "null", "never", "unknown", "Partial",
    ];
    for word in ty.split(|c: char| !c.is_alphanumeric() && c != '_') {
        if word.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && !BUILTIN.contains(&word)
            && word != "JsonValue"
        {
            out.insert(word.to_string());
        }
        if word == "JsonValue" {
            out.insert("JsonValue".into());
        }
    }
}

commands! {
    // lifecycle
    /// Where the app is: enroll, choose a PIN, unlock, or working.
    app_state => AppState(Empty) -> AppState [passive];
    /// Enroll this phone with the server address and one-time code.
    enroll => Enroll(EnrollInput) -> AppState;
    /// Choose the PIN (encrypts the phone's data with a key it wraps).
    set_pin => SetPin(PinInput) -> AppState;
    /// Unlock with the PIN.
    unlock => Unlock(PinInput) -> AppState;
    /// Lock now.
    lock => Lock(Empty) -> AppState;
    /// Change the PIN.
    change_pin => ChangePin(ChangePinInput) -> AppState;
    /// A touch on the screen: keeps the app unlocked.
    keep_alive => KeepAlive(Empty) -> Empty;
    /// The settings screen.
    settings => Settings(Empty) -> SettingsView [passive];
    /// Change the language or the auto-lock delay.
    update_settings => UpdateSettings(SettingsChange) -> SettingsView;
    /// Every code list with its Chinese and English names.
    vocabulary => Vocabulary(Empty) -> Vocabulary [passive];
    // the director's work
    /// Today's work.
    home => Home(Empty) -> Home;
    /// The roster, most urgent first, filtered.
    roster => Roster(RosterFilter) -> Vec<RosterItem>;
    /// A child's whole file (一人一档).
    child_file => ChildFile(ChildRef) -> ChildFileView;
    /// Register a child (with the guardian's signed acknowledgement of the notice).
    add_child => AddChild(NewChild) -> Saved;
    /// Change a child's details.
    edit_child => EditChild(EditChild) -> Saved;
    /// Soft-delete a child's file (kept for the audit trail).
    delete_child => DeleteChild(ChildRef) -> Saved;
    /// Add a parent, grandparent or entrusted caregiver.
    add_guardian => AddGuardian(NewGuardian) -> Saved;
    /// Change a guardian's details.
    edit_guardian => EditGuardian(EditGuardian) -> Saved;
    /// Any synced table by field names (scripts).
    add_record => AddRecord(RecordInput) -> Saved;
    /// The registration notice to read to the guardian.
    consent_notice => ConsentNotice(Empty) -> ConsentNotice [passive];
    /// Keep a guardian's acknowledgement of the notice.
    sign_consent => SignConsent(SignConsent) -> Saved;
    /// Put a photo through the pipeline and keep it for the visit being recorded.
    stage_photo => StagePhoto(PhotoInput) -> StagedPhotoView;
    /// Throw a staged photo away.
    discard_photo => DiscardPhoto(PhotoRef) -> Empty;
    /// An image held on the phone, by hash.
    photo => Photo(BlobRef) -> ImageData [passive];
    /// Record a visit with its photos (and a referral made on it).
    record_visit => RecordVisit(NewVisit) -> VisitSaved;
    /// Void a visit recorded by mistake.
    void_visit => VoidVisit(VoidVisit) -> Saved;
    /// Save a form's fields as they are now.
    save_draft => SaveDraft(DraftInput) -> DraftSaved;
    /// A form's draft, if one was saved.
    get_draft => GetDraft(DraftRef) -> Option<DraftView>;
    /// Throw a draft away.
    discard_draft => DiscardDraft(DraftRef) -> Empty;
    /// Make a referral.
    add_referral => AddReferral(NewReferral) -> Saved;
    /// Close a referral with its outcome.
    close_referral => CloseReferral(CloseReferral) -> Saved;
    // care agreements
    /// Create or edit a care agreement draft.
    save_agreement_draft => SaveAgreementDraft(AgreementDraftInput) -> Saved;
    /// The full text a draft would be signed with.
    agreement_preview => AgreementPreview(DraftId) -> AgreementPreview;
    /// Sign a draft (the text read, by its hash) with every signer's signature.
    sign_agreement => SignAgreement(SignAgreement) -> AgreementSigned;
    /// A signed agreement's locked text and signatures.
    agreement => Agreement(VersionRef) -> AgreementTextView;
    /// The printable copy of a signed agreement for the family (PDF).
    agreement_pdf => AgreementPdf(VersionRef) -> PdfFile [passive];
    // sync
    /// What the sync screen and badge show.
    sync_state => SyncState(Empty) -> SyncState [passive];
    /// Sync now.
    sync_now => SyncNow(SyncNowInput) -> SyncState;
    /// Take a rejected change off the list after acting on it.
    acknowledge_rejected => AcknowledgeRejected(RejectedRef) -> SyncState;
    /// The device's raw sync counters.
    status => Status(Empty) -> DeviceStatus [passive];
    /// Villages of a phone that is not enrolled (offline tests and demos).
    init => Init(InitInput) -> DeviceStatus;
    /// The whole synced state as canonical JSON.
    export => Export(Empty) -> Value [passive];
    /// Per-village checksums.
    checksums => Checksums(Empty) -> Value [passive];
}

impl DeviceApp {
    /// Runs a command given by name with JSON arguments: what every shell calls.
    pub fn call(&self, command: &str, args: Value) -> Result<Value, UserError> {
        self.dispatch(Request::parse(command, args)?)
    }
}
