//! The one list of what the device API offers every shell: its commands and the
//! shell's own commands (its events are listed in [`crate::events`]). Adding a command
//! is a change here (and the method it names); everything else is made from this list:
//!
//! - the one dispatcher the Tauri `invoke` handler, the HTTP bridge and `fieldctl`
//!   call ([`DeviceApp::call`], or [`DeviceApp::dispatch`] with a typed [`Request`]);
//! - the UI's TypeScript (`ui/src/lib/api/gen/`): one declaration per input and
//!   answer type, `commands.ts` with the `Commands` map, a typed wrapper per command
//!   (`deviceApi`), the `Events` map and the names of both, and `index.ts` exporting
//!   every type;
//! - the Tauri app's ACL: `src-tauri/permissions/device-api.toml` allows exactly these
//!   commands (its capability grants that one permission).
//!
//! [`generated_files`] makes them; `tests/generated.rs` fails when a committed copy is
//! stale (`TONGHU_UPDATE_GENERATED=1 cargo test -p field-app --test generated`
//! rewrites them).

use crate::app::DeviceApp;
use crate::error::UserError;
use crate::types::*;
use serde_json::Value;
use std::collections::BTreeMap;
use ts_rs::TS;

macro_rules! commands {
    (
        device {$(
            $(#[doc = $doc:literal])*
            $name:ident => $variant:ident ( $args:ty ) -> $out:ty $([$passive:ident])? ;
        )*}
        shell {$(
            $(#[doc = $sdoc:literal])*
            $sname:ident ( $sargs:ty ) -> $sout:ty ;
        )*}
    ) => {
        /// A command with its typed arguments.
        #[derive(Debug)]
        pub enum Request {
            $( $(#[doc = $doc])* $variant($args), )*
        }

        /// Every device command's name, as the shells and the UI call it.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// The commands a shell implements itself (the Tauri app), declared here so the
        /// UI's types and the app's ACL come from the same list. [`DeviceApp::call`]
        /// does not run them.
        pub const SHELL_COMMANDS: &[&str] = &[$(stringify!($sname)),*];

        impl Request {
            /// Reads a command by name with its arguments as JSON (absent or `null`
            /// arguments are read as `{}`). Arguments that do not fit are refused
            /// naming the field at fault, in Chinese ([`crate::arguments`]).
            pub fn parse(name: &str, args: Value) -> Result<Request, UserError> {
                let args = if args.is_null() { Value::Object(Default::default()) } else { args };
                match name {
                    $( stringify!($name) => crate::arguments::read::<$args>(args).map(Request::$variant), )*
                    $( stringify!($sname) => Err(UserError::new(
                        crate::error::Code::UnknownCommand,
                        "这个操作只能在手机应用里使用",
                        format!("{} is a command of the app shell, not of the device", stringify!($sname)),
                    )), )*
                    other => Err(UserError::new(
                        crate::error::Code::UnknownCommand,
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
                        serde_json::to_value(r).map_err(UserError::internal)
                    }), )*
                }
            }
        }

        /// Every command (device and shell) and event as the generator sees it.
        fn catalogue(cfg: &ts_rs::Config) -> Catalogue {
            let mut c = Catalogue::default();
            $( c.commands.push(CommandEntry {
                name: stringify!($name),
                doc: vec![$($doc),*],
                args: <$args as TS>::name(cfg),
                result: <$out as TS>::name(cfg),
                args_optional: serde_json::from_value::<$args>(serde_json::json!({})).is_ok(),
                shell: false,
            }); )*
            $( c.commands.push(CommandEntry {
                name: stringify!($sname),
                doc: vec![$($sdoc),*],
                args: <$sargs as TS>::name(cfg),
                result: <$sout as TS>::name(cfg),
                args_optional: serde_json::from_value::<$sargs>(serde_json::json!({})).is_ok(),
                shell: true,
            }); )*
            c.events = crate::events::catalogue(cfg);
            c
        }

        /// Writes every type the commands and events use as TypeScript declarations
        /// into `dir`, one file per type.
        fn export_types(cfg: &ts_rs::Config) -> Result<(), String> {
            $( <$args as TS>::export_all(cfg).map_err(|e| e.to_string())?;
               export_out::<$out>(cfg)?; )*
            $( <$sargs as TS>::export_all(cfg).map_err(|e| e.to_string())?;
               export_out::<$sout>(cfg)?; )*
            crate::events::export(cfg)?;
            <crate::types::CodeLists as TS>::export_all(cfg).map_err(|e| e.to_string())
        }
    };
    (@activity passive) => { false };
    (@activity) => { true };
}

#[derive(Default)]
struct Catalogue {
    commands: Vec<CommandEntry>,
    events: Vec<EventEntry>,
}

struct CommandEntry {
    name: &'static str,
    doc: Vec<&'static str>,
    args: String,
    result: String,
    /// `{}` is a valid argument (every field has a default): the wrapper's argument
    /// may be left out.
    args_optional: bool,
    shell: bool,
}

use crate::events::EventEntry;

/// Where the generated files go, relative to the repository's root.
pub const TYPESCRIPT_DIR: &str = "ui/src/lib/api/gen";
/// The Tauri app's permission allowing every command of the list.
pub const TAURI_PERMISSION_FILE: &str = "src-tauri/permissions/device-api.toml";
/// The permission's identifier, which the app's capability grants.
pub const TAURI_PERMISSION: &str = "device-api";

const GENERATED: &str = "Generated from crates/field-app/src/commands.rs by `TONGHU_UPDATE_GENERATED=1 cargo test -p field-app --test generated`. Do not edit.";

/// Every file made from the list, by path relative to the repository's root: the UI's
/// TypeScript and the Tauri app's permission file.
pub fn generated_files() -> Result<BTreeMap<String, String>, String> {
    let tmp = std::env::temp_dir().join(format!("tonghu-ts-{}", uuid::Uuid::now_v7()));
    let result = (|| {
        let cfg = ts_rs::Config::new()
            .with_large_int("number")
            .with_out_dir(&tmp);
        export_types(&cfg)?;
        let mut files = BTreeMap::new();
        read_tree(&tmp, &tmp, &mut files)?;
        let types: Vec<String> = files
            .keys()
            .filter_map(|p| p.strip_suffix(".ts"))
            .map(str::to_string)
            .collect();
        let catalogue = catalogue(&cfg);
        let mut out: BTreeMap<String, String> = files
            .into_iter()
            .map(|(p, t)| (format!("{TYPESCRIPT_DIR}/{p}"), t))
            .collect();
        out.insert(
            format!("{TYPESCRIPT_DIR}/commands.ts"),
            commands_ts(&catalogue),
        );
        out.insert(format!("{TYPESCRIPT_DIR}/index.ts"), index_ts(&types));
        out.insert(
            TAURI_PERMISSION_FILE.to_string(),
            tauri_permission(&catalogue),
        );
        Ok(out)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Writes [`generated_files`] under the repository's root `root`, removing generated
/// TypeScript files no longer made.
pub fn write_generated(root: &std::path::Path) -> Result<(), String> {
    let files = generated_files()?;
    let _ = std::fs::remove_dir_all(root.join(TYPESCRIPT_DIR));
    for (path, text) in &files {
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn read_tree(
    root: &std::path::Path,
    dir: &std::path::Path,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    for e in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = e.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).map_err(|e| e.to_string())?;
            let rel = rel.to_string_lossy().replace('\\', "/");
            out.insert(
                rel,
                std::fs::read_to_string(&path).map_err(|e| e.to_string())?,
            );
        }
    }
    Ok(())
}

/// `getDraft` for `get_draft`.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in name.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn doc_comment(doc: &[&str], indent: &str) -> String {
    if doc.is_empty() {
        return String::new();
    }
    let text: Vec<&str> = doc.iter().map(|d| d.trim()).collect();
    format!("{indent}/** {} */\n", text.join(" ").replace("*/", "* /"))
}

/// `commands.ts`: the command map, the typed wrappers, the event map and the names.
fn commands_ts(c: &Catalogue) -> String {
    let mut imports = std::collections::BTreeSet::new();
    for e in &c.commands {
        collect_idents(&e.args, &mut imports);
        collect_idents(&e.result, &mut imports);
    }
    for e in &c.events {
        collect_idents(&e.data, &mut imports);
    }
    let mut out = format!("// {GENERATED}\n");
    for i in &imports {
        let path = if i == "JsonValue" {
            "serde_json/JsonValue".to_string()
        } else {
            i.clone()
        };
        out.push_str(&format!("import type {{ {i} }} from \"./{path}\";\n"));
    }
    out.push_str("\n/** Every command, the device's and the app shell's: its arguments and its answer. */\nexport type Commands = {\n");
    for e in &c.commands {
        out.push_str(&doc_comment(&e.doc, "  "));
        out.push_str(&format!(
            "  {}: {{ args: {}; result: {} }};\n",
            e.name, e.args, e.result
        ));
    }
    out.push_str("};\n\nexport type CommandName = keyof Commands;\n\n");
    let list = |shell: bool| {
        c.commands
            .iter()
            .filter(|e| e.shell == shell)
            .map(|e| format!("  \"{}\",\n", e.name))
            .collect::<String>()
    };
    out.push_str(&format!(
        "/** The device's commands (every shell offers them). */\nexport const COMMANDS: CommandName[] = [\n{}];\n\n",
        list(false)
    ));
    out.push_str(&format!(
        "/** The commands only the app shell (Tauri) offers. */\nexport const SHELL_COMMANDS: CommandName[] = [\n{}];\n\n",
        list(true)
    ));
    out.push_str("/** How a command reaches the core (Tauri's invoke, or the bridge). */\nexport type Call = <K extends CommandName>(name: K, args: Commands[K]['args']) => Promise<Commands[K]['result']>;\n\n");
    out.push_str("/** One typed function per command, each sending its arguments through `call`. */\nexport function deviceApi(call: Call) {\n  return {\n");
    for e in &c.commands {
        out.push_str(&doc_comment(&e.doc, "    "));
        let arg = if e.args_optional {
            format!("args: {} = {{}}", e.args)
        } else {
            format!("args: {}", e.args)
        };
        out.push_str(&format!(
            "    {}: ({arg}): Promise<{}> => call(\"{}\", args),\n",
            camel(e.name),
            e.result,
            e.name
        ));
    }
    out.push_str(
        "  };\n}\n\n/** Every event the core pushes, with its data. */\nexport type Events = {\n",
    );
    for e in &c.events {
        out.push_str(&doc_comment(&e.doc, "  "));
        out.push_str(&format!("  {}: {};\n", e.name, e.data));
    }
    out.push_str("};\n\nexport type EventName = keyof Events;\n\n/** Every event's name. */\nexport const EVENTS: EventName[] = [\n");
    for e in &c.events {
        out.push_str(&format!("  \"{}\",\n", e.name));
    }
    out.push_str("];\n");
    out
}

/// `index.ts`: every generated declaration under one import path.
fn index_ts(types: &[String]) -> String {
    let mut out = format!("// {GENERATED}\n");
    for t in types {
        let name = t.rsplit('/').next().unwrap_or(t);
        out.push_str(&format!("export type {{ {name} }} from \"./{t}\";\n"));
    }
    out.push_str(
        "export type { Call, CommandName, Commands, EventName, Events } from \"./commands\";\n",
    );
    out.push_str("export { COMMANDS, EVENTS, SHELL_COMMANDS, deviceApi } from \"./commands\";\n");
    out
}

/// The Tauri app's permission allowing every command of the list (the app's ACL
/// manifest: `tauri-build` reads `src-tauri/permissions/`).
fn tauri_permission(c: &Catalogue) -> String {
    let names: Vec<String> = c
        .commands
        .iter()
        .map(|e| format!("  \"{}\",", e.name))
        .collect();
    format!(
        "# {GENERATED}\n\n[[permission]]\nidentifier = \"{TAURI_PERMISSION}\"\ndescription = \"Every command of the device API (crates/field-app) and the app shell's own: what the app's own page may call.\"\ncommands.allow = [\n{}\n]\n",
        names.join("\n")
    )
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
        if word.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && !BUILTIN.contains(&word) {
            out.insert(word.to_string());
        }
    }
}

commands! {
device {
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
    /// The tasks on this phone: open ones (or all), overdue and longest waiting first.
    tasks => Tasks(TaskFilter) -> Vec<TaskView>;
    /// One task: the finding behind it (which list, which month, who was matched), how
    /// it stands, the register form pre-filled from it, the outcomes it may close with.
    task => Task(TaskRef) -> TaskDetail;
    /// Close a task as linked to a child on file, not eligible (with the reason), or not
    /// found / moved away (with a note). Registering the child is `add_child` with the
    /// task's id.
    close_task => CloseTask(CloseTask) -> Saved;
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
    /// Every problem of a visit, registration or agreement form at once (blocking or a
    /// warning), and what the device fills in — before anything is saved or signed.
    check_draft => CheckDraft(CheckDraft) -> DraftCheck [passive];
    /// Put back a value another phone's edit replaced (a new edit, through the change
    /// log).
    restore_replaced_value => RestoreReplacedValue(ReplacedRef) -> Saved;
    /// Keep what a record holds now after another phone's edit (home no longer shows it).
    keep_current_value => KeepCurrentValue(ReplacedRef) -> Empty;
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
shell {
    /// `agreement_pdf` kept as a new file (Downloads, else Documents) and opened for
    /// printing: a webview can neither download nor open a PDF itself. The Tauri app.
    save_agreement_pdf(VersionRef) -> SavedPdf;
}
}

impl DeviceApp {
    /// Runs a command given by name with JSON arguments: what every shell calls.
    pub fn call(&self, command: &str, args: Value) -> Result<Value, UserError> {
        self.dispatch(Request::parse(command, args)?)
    }
}
