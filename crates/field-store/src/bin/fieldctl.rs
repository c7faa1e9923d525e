//! `fieldctl`: a headless child director's device, for scripts, tests and the load
//! generator. Every command opens the store in `--data`, does one thing through
//! field-store's public API, and prints a human summary (or JSON with `--json`).
//!
//! Errors are printed in Chinese and English and exit with status 1; nothing already
//! saved is touched by a failed command.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use domain::DueStatus;
use field_store::fieldwork::SignatureInput;
use field_store::roster::RosterFilter;
use field_store::{OpenOptions, Store, StoreError};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::PathBuf;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "fieldctl",
    about = "Tonghu device CLI (headless child director's phone)",
    version
)]
struct Cli {
    /// Device data folder.
    #[arg(
        long,
        global = true,
        env = "TONGHU_DEVICE_DIR",
        default_value = "tonghu-device"
    )]
    data: PathBuf,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,
    /// SQLCipher key (the app derives it from the director's PIN).
    #[arg(long, global = true, env = "TONGHU_DEVICE_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Run this device with its wall clock off by this many ms (testing clock skew;
    /// e.g. 31536000000 = a year fast, negative = slow).
    #[arg(
        long,
        global = true,
        env = "TONGHU_CLOCK_SKEW_MS",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    clock_skew_ms: i64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the device store (idempotent) and print the device id.
    Init {
        /// Villages this device holds (set by enrollment later; useful offline).
        #[arg(long = "village")]
        villages: Vec<String>,
    },
    /// Children: add, edit, show the whole file (一人一档), delete.
    #[command(subcommand)]
    Child(ChildCmd),
    /// Add a guardian, parent or entrusted caregiver to a child.
    Guardian {
        child: Uuid,
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        set: SetArgs,
    },
    /// Visits: record (with photos) or void.
    #[command(subcommand)]
    Visit(VisitCmd),
    /// Care agreements: draft and sign.
    #[command(subcommand)]
    Agreement(AgreementCmd),
    /// Add a referral, task or any other record: `fieldctl record referral --set k=v …`.
    Record {
        table: String,
        #[command(flatten)]
        set: SetArgs,
    },
    /// The roster, most urgent first.
    Roster {
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        risk: Option<String>,
        #[arg(long)]
        overdue: bool,
        /// Name in Chinese characters or pinyin initials.
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        include_exited: bool,
    },
    /// Enroll this device with a sync server using a one-time code from the admin.
    Enroll {
        #[arg(long)]
        server: String,
        #[arg(long)]
        code: String,
        #[arg(long, default_value = "fieldctl")]
        name: String,
    },
    /// Sync with the server now (push, photos, pull, verify). Retries network
    /// failures with back-off up to --retries times.
    Sync {
        #[arg(long, default_value_t = 0)]
        retries: u32,
        /// Changes per push request.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Changes per pull page.
        #[arg(long, default_value_t = 1000)]
        page: u32,
        #[arg(long)]
        no_thumbnails: bool,
    },
    /// Changes the server refused, with its reasons.
    Rejected,
    /// Outbox depth, last change, rejected changes, cursor.
    Status,
    /// The whole synced state as canonical JSON (compare two devices byte for byte).
    Export,
    /// Per-scope checksums.
    Checksums,
    /// Helpers for tests.
    #[command(subcommand, hide = true)]
    Debug(DebugCmd),
}

#[derive(Args, Default)]
struct SetArgs {
    /// field=value; the value is parsed as JSON when it is valid JSON, else taken as text.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// A JSON object of fields (a file path, or - for standard input).
    #[arg(long = "fields")]
    fields: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ChildCmd {
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        sex: String,
        #[arg(long)]
        birth_date: String,
        #[arg(long)]
        village: String,
        /// Category code; repeat for several.
        #[arg(long = "category", required = true)]
        categories: Vec<String>,
        #[arg(long, default_value = "green")]
        risk: String,
        #[arg(long)]
        id_number: Option<String>,
        /// Date the child was added to the roster (default today).
        #[arg(long)]
        added_on: Option<String>,
        #[command(flatten)]
        set: SetArgs,
    },
    Edit {
        id: Uuid,
        #[command(flatten)]
        set: SetArgs,
    },
    Show {
        id: Uuid,
    },
    Delete {
        id: Uuid,
    },
}

#[derive(Subcommand)]
enum VisitCmd {
    Add {
        child: Uuid,
        #[arg(long, default_value = "home")]
        mode: String,
        #[arg(long, default_value = "green")]
        risk: String,
        #[arg(long, default_value = "儿童主任")]
        visitor: String,
        /// Checklist items as area=status[:note], e.g. health=watch:感冒; unspecified
        /// areas are normal.
        #[arg(long = "item")]
        items: Vec<String>,
        /// When the visit happened (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
        #[command(flatten)]
        set: SetArgs,
    },
    Void {
        id: Uuid,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "儿童主任")]
        by: String,
    },
}

#[derive(Subcommand)]
enum AgreementCmd {
    /// Create (or with --draft, edit) a draft from a JSON file of terms.
    Draft {
        child: Uuid,
        #[arg(long)]
        terms: PathBuf,
        #[arg(long)]
        draft: Option<Uuid>,
    },
    /// Sign a draft: --signature role:name:image.png, repeated.
    Sign {
        draft: Uuid,
        #[arg(long = "signature", required = true)]
        signatures: Vec<String>,
    },
}

#[derive(Subcommand)]
enum DebugCmd {
    /// Write visits one by one, printing each visit id after its commit (crash tests).
    WriteVisits {
        child: Uuid,
        #[arg(long, default_value_t = 1000)]
        count: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    let json_out = cli.json;
    if let Err(e) = run(cli) {
        let (code, zh, en) = if let Some(se) = e.downcast_ref::<field_store::sync::SyncError>() {
            (se.code().to_string(), se.zh(), se.to_string())
        } else if let Some(se) = e.downcast_ref::<StoreError>() {
            (se.code().to_string(), se.zh(), se.to_string())
        } else {
            ("cli".to_string(), "命令出错".to_string(), format!("{e:#}"))
        };
        if json_out {
            println!("{}", json!({"error": {"code": code, "zh": zh, "en": en}}));
        } else {
            eprintln!("错误：{zh}\nerror: {en}");
        }
        std::process::exit(1);
    }
}

fn open(cli: &Cli) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&cli.data)
        .with_context(|| format!("creating {}", cli.data.display()))?;
    let opts = OpenOptions {
        key: cli.key.clone(),
        clock_skew_ms: cli.clock_skew_ms,
        relaxed_durability: false,
    };
    Ok(Store::open(cli.data.join("device.db"), &opts)?)
}

/// A `--set` value as the schema types it: text stays text (a phone number is not a
/// number), whole numbers and booleans where the field wants them, JSON for lists and
/// objects, `null` to clear.
fn typed_value(table: &str, field: &str, raw: &str) -> Value {
    use sync_core::ValueType as T;
    let ty = domain::schema::table(table)
        .and_then(|t| t.field(field))
        .map(|f| f.ty);
    let parsed = serde_json::from_str::<Value>(raw).ok();
    match (ty, parsed) {
        (_, Some(Value::Null)) => Value::Null,
        (Some(T::Integer { .. }), Some(v @ Value::Number(_))) => v,
        (Some(T::Bool), Some(v @ Value::Bool(_))) => v,
        (Some(T::Json { .. } | T::CodeSet(_)), Some(v @ (Value::Array(_) | Value::Object(_)))) => v,
        (None, Some(v)) => v,
        _ => Value::String(raw.to_string()),
    }
}

fn fields_of(table: &str, set: &SetArgs) -> anyhow::Result<Map<String, Value>> {
    let mut m = match &set.fields {
        Some(p) => {
            let text = if p.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
            };
            match serde_json::from_str::<Value>(&text).context("--fields must be a JSON object")? {
                Value::Object(m) => m,
                _ => anyhow::bail!("--fields must be a JSON object"),
            }
        }
        None => Map::new(),
    };
    for kv in &set.set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set expects FIELD=VALUE, got {kv:?}"))?;
        let value = typed_value(table, k, v);
        m.insert(k.to_string(), value);
    }
    Ok(m)
}

fn print(json_out: bool, value: &Value, human: impl FnOnce() -> String) {
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{}", human());
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut store = open(&cli)?;
    let j = cli.json;
    match &cli.cmd {
        Cmd::Init { villages } => {
            if !villages.is_empty() {
                store.set_scopes(villages)?;
            }
            let id = store.device_id();
            print(j, &json!({"device_id": id}), || format!("设备 device {id}"));
        }
        Cmd::Child(ChildCmd::Add {
            name,
            sex,
            birth_date,
            village,
            categories,
            risk,
            id_number,
            added_on,
            set,
        }) => {
            let mut f = Map::new();
            f.insert("name".into(), json!(name));
            f.insert("sex".into(), json!(sex));
            f.insert("birth_date".into(), json!(birth_date));
            f.insert("village_code".into(), json!(village));
            f.insert("categories".into(), json!(categories));
            f.insert("risk_colour".into(), json!(risk));
            f.insert("household_registered".into(), json!(true));
            f.insert("status".into(), json!("active"));
            f.insert(
                "added_on".into(),
                json!(added_on
                    .clone()
                    .unwrap_or_else(|| store.today().to_string())),
            );
            if let Some(idn) = id_number {
                f.insert("id_number".into(), json!(idn));
            }
            f.extend(fields_of("child", set)?);
            let id = store.add_child(f)?;
            print(j, &json!({"child_id": id}), || {
                format!("已登记儿童 child added: {id}")
            });
        }
        Cmd::Child(ChildCmd::Edit { id, set }) => {
            let n = store.edit_record("child", *id, fields_of("child", set)?)?;
            print(j, &json!({"child_id": id, "changed": n}), || {
                format!("已修改 {n} 项 changed {n} field(s)")
            });
        }
        Cmd::Child(ChildCmd::Show { id }) => {
            let file = store.child_file(*id)?;
            let v = serde_json::to_value(&file)?;
            print(j, &v, || human_child_file(&v));
        }
        Cmd::Child(ChildCmd::Delete { id }) => {
            store.delete_record("child", *id)?;
            print(j, &json!({"child_id": id, "deleted": true}), || {
                "已删除（保留审计记录）deleted".into()
            });
        }
        Cmd::Guardian {
            child,
            role,
            name,
            set,
        } => {
            let mut f = fields_of("guardian", set)?;
            f.insert("child_id".into(), json!(child));
            f.insert("role".into(), json!(role));
            f.insert("name".into(), json!(name));
            let id = store.add_record("guardian", f)?;
            print(j, &json!({"guardian_id": id}), || {
                format!("已添加监护人 guardian added: {id}")
            });
        }
        Cmd::Record { table, set } => {
            let id = store.add_record(table, fields_of(table, set)?)?;
            print(j, &json!({"id": id, "table": table}), || {
                format!("已保存 saved {table} {id}")
            });
        }
        Cmd::Visit(VisitCmd::Add {
            child,
            mode,
            risk,
            visitor,
            items,
            at,
            photos,
            set,
        }) => {
            let mut f = Map::new();
            f.insert(
                "visited_at".into(),
                json!(at.clone().unwrap_or_else(|| now_rfc3339(&store))),
            );
            f.insert("mode".into(), json!(mode));
            f.insert("visitor".into(), json!(visitor));
            f.insert("risk_colour".into(), json!(risk));
            f.insert("emergency".into(), json!(false));
            f.insert("actions".into(), json!([]));
            f.insert("checklist".into(), checklist(items)?);
            f.extend(fields_of("visit", set)?);
            let images = photos
                .iter()
                .map(|p| std::fs::read(p).with_context(|| format!("reading photo {}", p.display())))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let r = store.record_visit(*child, f, &images)?;
            print(j, &serde_json::to_value(&r)?, || {
                format!(
                    "已记录走访 visit recorded: {} ({} 张照片 photos)",
                    r.visit_id,
                    r.photo_ids.len()
                )
            });
        }
        Cmd::Visit(VisitCmd::Void { id, reason, by }) => {
            store.void_record("visit", *id, reason, by)?;
            print(j, &json!({"visit_id": id, "voided": true}), || {
                "已作废 visit voided".into()
            });
        }
        Cmd::Agreement(AgreementCmd::Draft {
            child,
            terms,
            draft,
        }) => {
            let text = std::fs::read_to_string(terms)
                .with_context(|| format!("reading {}", terms.display()))?;
            let terms: Value = serde_json::from_str(&text).context("terms must be JSON")?;
            let id = store.save_agreement_draft(*child, *draft, terms)?;
            print(j, &json!({"draft_id": id}), || {
                format!("协议草稿已保存 draft saved: {id}")
            });
        }
        Cmd::Agreement(AgreementCmd::Sign { draft, signatures }) => {
            let sigs = signatures
                .iter()
                .map(|s| {
                    let mut parts = s.splitn(3, ':');
                    let (Some(role), Some(name), Some(path)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        anyhow::bail!("--signature expects role:name:image.png, got {s:?}");
                    };
                    Ok(SignatureInput {
                        role: role.to_string(),
                        name: name.to_string(),
                        image: std::fs::read(path)
                            .with_context(|| format!("reading signature {path}"))?,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let signed = store.sign_agreement(*draft, &sigs)?;
            print(j, &serde_json::to_value(&signed)?, || {
                format!(
                    "协议已签署 agreement signed: version {} sha256 {}",
                    signed.version, signed.text_sha256
                )
            });
        }
        Cmd::Roster {
            category,
            risk,
            overdue,
            search,
            include_exited,
        } => {
            let entries = store.roster(&RosterFilter {
                category: category.clone(),
                risk_colour: risk.clone(),
                overdue_only: *overdue,
                search: search.clone(),
                include_exited: *include_exited,
            })?;
            print(j, &serde_json::to_value(&entries)?, || {
                let mut out = format!("{} 名儿童 children\n", entries.len());
                for e in &entries {
                    let due = match e.due {
                        Some(DueStatus::Overdue { days }) => format!("逾期 {days} 天 overdue"),
                        Some(DueStatus::DueSoon { days }) => format!("{days} 天内到期 due soon"),
                        Some(DueStatus::NotDue { days }) => format!("{days} 天后 due later"),
                        None => "—".into(),
                    };
                    let unsynced = if e.last_visit_unsynced {
                        " (走访未同步 visit not synced)"
                    } else {
                        ""
                    };
                    out.push_str(&format!(
                        "{}  {}  {}  下次 next {}  {}{}\n",
                        e.child_id,
                        e.name,
                        e.risk_colour,
                        e.next_due_on.as_deref().unwrap_or("—"),
                        due,
                        unsynced
                    ));
                }
                out
            });
        }
        Cmd::Enroll { server, code, name } => {
            let e =
                field_store::sync::enroll(&mut store, server, code, name).map_err(sync_error)?;
            print(
                j,
                &json!({"device_id": e.device_id, "account_id": e.account_id, "role": e.role, "villages": e.scopes}),
                || {
                    format!(
                        "登记成功 enrolled: {} ({}) 村 villages {:?}",
                        e.account_id, e.role, e.scopes
                    )
                },
            );
        }
        Cmd::Sync {
            retries,
            batch,
            page,
            no_thumbnails,
        } => {
            let opts = field_store::sync::SyncOptions {
                push_batch: *batch,
                pull_page: *page,
                fetch_thumbnails: !no_thumbnails,
                ..Default::default()
            };
            let report = sync_with_progress(&mut store, &opts, *retries, j)?;
            print(j, &serde_json::to_value(&report)?, || {
                format!(
                    "同步完成 synced: 上传 pushed {} 条, 被拒 rejected {}, 下载 pulled {} 条, 照片 blobs {} ({} bytes), 缩略图 thumbnails {}",
                    report.pushed, report.rejected, report.pulled, report.blobs_uploaded, report.blob_bytes_sent, report.thumbnails_fetched
                )
            });
        }
        Cmd::Rejected => {
            let rejected = store.rejected_changes()?;
            print(j, &serde_json::to_value(&rejected)?, || {
                let mut out = format!("{} 条被拒绝 rejected change(s)\n", rejected.len());
                for r in &rejected {
                    out.push_str(&format!(
                        "{} {}.{}: {} ({})\n",
                        r.change.device_seq, r.change.table, r.change.field, r.message, r.code
                    ));
                }
                out
            });
        }
        Cmd::Status => {
            let st = store.status()?;
            let v = serde_json::to_value(&st)?;
            print(j, &v, || {
                format!(
                    "设备 device {}\n儿童 children {}  记录 records {}\n待发送 outbox {} 条 changes (最早 oldest {} s)\n被拒绝 rejected {}\n待上传照片 pending blobs {} ({} bytes)\n已确认 acked seq {} / 最后 last seq {}\n拉取游标 pull cursor {}  时钟偏差 clock offset {} ms",
                    st.device_id,
                    st.children,
                    st.records,
                    st.outbox_changes,
                    st.oldest_pending_secs.map(|s| s.to_string()).unwrap_or("—".into()),
                    st.rejected_changes,
                    st.pending_blobs,
                    st.pending_blob_bytes,
                    st.acked_seq,
                    st.last_device_seq,
                    st.pull_cursor,
                    st.clock_offset_ms
                )
            });
        }
        Cmd::Export => {
            println!("{}", store.export_canonical()?);
        }
        Cmd::Checksums => {
            let sums = store.scope_checksums()?;
            print(j, &serde_json::to_value(&sums)?, || {
                sums.iter()
                    .map(|(s, c)| format!("{s}  {} fields  {:032x}", c.fields, c.sum))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Cmd::Debug(DebugCmd::WriteVisits { child, count }) => {
            let stdout = std::io::stdout();
            for i in 0..*count {
                let mut f = Map::new();
                f.insert("visited_at".into(), json!(now_rfc3339(&store)));
                f.insert("mode".into(), json!("home"));
                f.insert("visitor".into(), json!("测试"));
                f.insert("risk_colour".into(), json!("green"));
                f.insert("emergency".into(), json!(false));
                f.insert("actions".into(), json!([]));
                f.insert("checklist".into(), checklist(&[])?);
                f.insert("narrative".into(), json!(format!("第{i}次走访")));
                let r = store.record_visit(*child, f, &[])?;
                let mut out = stdout.lock();
                writeln!(out, "{}", r.visit_id)?;
                out.flush()?;
            }
        }
    }
    Ok(())
}

/// A sync error as a store-style error, so it prints in Chinese and English.
fn sync_error(e: field_store::sync::SyncError) -> anyhow::Error {
    anyhow::Error::from(e)
}

/// Runs sync rounds until one succeeds or `retries` network failures have happened,
/// showing a progress bar on a terminal.
fn sync_with_progress(
    store: &mut Store,
    opts: &field_store::sync::SyncOptions,
    retries: u32,
    json_out: bool,
) -> anyhow::Result<field_store::sync::SyncReport> {
    use indicatif::{ProgressBar, ProgressStyle};
    use std::io::IsTerminal;
    let bar = if !json_out && std::io::stderr().is_terminal() {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{msg:10} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Some(b)
    } else {
        None
    };
    let mut backoff = field_store::sync::Backoff::new(
        std::time::Duration::from_millis(500),
        std::time::Duration::from_secs(30),
    );
    let mut attempt = 0;
    loop {
        let mut on_progress = |p: &field_store::sync::SyncProgress| {
            if let Some(b) = &bar {
                if let Some(phase) = p.phase {
                    b.set_message(phase.label_zh());
                }
                if p.bytes_total > 0 {
                    b.set_length(p.bytes_total);
                    b.set_position(p.bytes_done);
                } else {
                    b.set_length(p.records_total.max(p.records_done));
                    b.set_position(p.records_done);
                }
            }
        };
        match field_store::sync::sync_once(store, opts, &mut on_progress) {
            Ok(r) => {
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                return Ok(r);
            }
            Err(e) if e.is_retryable() && attempt < retries => {
                attempt += 1;
                let d = backoff.next_delay();
                eprintln!(
                    "网络问题，{:.1} 秒后重试 network problem, retrying in {:.1}s: {e}",
                    d.as_secs_f64(),
                    d.as_secs_f64()
                );
                std::thread::sleep(d);
            }
            Err(e) => return Err(sync_error(e)),
        }
    }
}

fn now_rfc3339(store: &Store) -> String {
    store.now_china_rfc3339()
}

/// Builds the six-area checklist from `area=status[:note]` items (others normal).
fn checklist(items: &[String]) -> anyhow::Result<Value> {
    let mut m = Map::new();
    for area in domain::ChecklistArea::ALL {
        m.insert(area.code().to_string(), json!({"status": "normal"}));
    }
    for item in items {
        let (area, rest) = item
            .split_once('=')
            .with_context(|| format!("--item expects area=status[:note], got {item:?}"))?;
        let (status, note) = match rest.split_once(':') {
            Some((s, n)) => (s, Some(n)),
            None => (rest, None),
        };
        let mut v = json!({"status": status});
        if let Some(n) = note {
            v["note"] = json!(n);
        }
        m.insert(area.to_string(), v);
    }
    Ok(Value::Object(m))
}

fn human_child_file(v: &Value) -> String {
    let c = &v["child"];
    let mut out = format!(
        "{} ({})  出生 born {}  村 village {}\n身份证 ID {}\n类别 categories {}  风险 risk {}\n",
        c["name"].as_str().unwrap_or(""),
        c["sex"].as_str().unwrap_or(""),
        c["birth_date"].as_str().unwrap_or(""),
        v["village"].as_str().unwrap_or(""),
        c["id_number"]
            .as_str()
            .map(domain::id_number::mask_id_number)
            .unwrap_or_else(|| "—".into()),
        c["categories"],
        c["risk_colour"].as_str().unwrap_or("")
    );
    for (label, key) in [
        ("监护人 guardians", "guardians"),
        ("走访 visits", "visits"),
        ("照片 photos", "photos"),
        ("协议 agreement versions", "agreement_versions"),
        ("转介 referrals", "referrals"),
        ("他人修改 changed by someone else", "history"),
    ] {
        out.push_str(&format!(
            "{label}: {}\n",
            v[key].as_array().map(|a| a.len()).unwrap_or(0)
        ));
    }
    out
}
