//! `fieldctl`: a headless child director's phone, for scripts, tests and the load
//! generator. Every subcommand turns its flags into one device command, runs it through
//! the same dispatcher the app uses ([`field_app::DeviceApp::call`]), and prints a
//! human summary (or the command's JSON answer with `--json`). It has no rules and no
//! defaults of its own: a value left out is the device's (the domain's) to fill or to
//! ask for, and a value typed as text is typed by the domain's schema.
//!
//! Errors are printed in Chinese and English and exit with status 1; nothing already
//! saved is touched by a failed command.

use clap::{Args, Parser, Subcommand};
use field_app::types::{RosterItem, SyncSummary, TaskView};
use field_app::{AppConfig, DeviceApp, UserError};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// The PIN, for a data folder the app protected with one.
    #[arg(long, global = true, env = "TONGHU_DEVICE_PIN", hide_env_values = true)]
    pin: Option<String>,
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
        child: String,
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
    /// Tasks the county's server wrote (主动发现): list, show why, close.
    #[command(subcommand)]
    Task(TaskCmd),
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
    /// Changes the server refused, with its reasons and what to do.
    Rejected,
    /// Outbox depth, last change, rejected changes, cursor.
    Status,
    /// The whole synced state as canonical JSON (compare two devices byte for byte).
    Export,
    /// Per-scope checksums.
    Checksums,
    /// Any device command by name with JSON arguments (`fieldctl call roster '{"search":"lxh"}'`).
    Call {
        command: String,
        #[arg(default_value = "{}")]
        args: String,
    },
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
enum TaskCmd {
    /// Open tasks with their age, overdue and longest waiting first.
    List {
        /// Closed and withdrawn tasks too.
        #[arg(long)]
        all: bool,
    },
    /// One task: which list, which month, who was matched, how it stands.
    Show { id: String },
    /// Close a task: --outcome linked --child ID | not_eligible --note 原因 |
    /// not_found_or_moved --note 情况 | registered --category CODE [--set k=v …]
    /// (registers the child from the finding's pre-filled form and closes the task in
    /// one transaction).
    Close {
        id: String,
        #[arg(long)]
        outcome: String,
        #[arg(long)]
        note: Option<String>,
        /// The child's file (linked).
        #[arg(long)]
        child: Option<String>,
        /// Category of the child registered; repeat for several.
        #[arg(long = "category")]
        categories: Vec<String>,
        #[command(flatten)]
        set: SetArgs,
    },
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
        /// Default: the domain's (green until a visit says otherwise).
        #[arg(long)]
        risk: Option<String>,
        #[arg(long)]
        id_number: Option<String>,
        /// Date the child was added to the roster (default today).
        #[arg(long)]
        added_on: Option<String>,
        #[command(flatten)]
        set: SetArgs,
    },
    Edit {
        id: String,
        #[command(flatten)]
        set: SetArgs,
    },
    Show {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Subcommand)]
enum VisitCmd {
    Add {
        child: String,
        /// How the visit was made (home, phone, school, …).
        #[arg(long)]
        mode: Option<String>,
        /// The risk colour the visit found.
        #[arg(long)]
        risk: Option<String>,
        /// Default: the enrolled director.
        #[arg(long)]
        visitor: Option<String>,
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
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum AgreementCmd {
    /// Create (or with --draft, edit) a draft from a JSON file of terms.
    Draft {
        child: String,
        #[arg(long)]
        terms: PathBuf,
        #[arg(long)]
        draft: Option<String>,
    },
    /// The full text a draft would be signed with, its SHA-256 and what is missing.
    Preview { draft: String },
    /// Sign a draft: --signature role:name:image.png, repeated, and --sha256 of the
    /// text the signers read (`fieldctl agreement preview`).
    Sign {
        draft: String,
        #[arg(long = "signature", required = true)]
        signatures: Vec<String>,
        #[arg(long)]
        sha256: Option<String>,
    },
}

#[derive(Subcommand)]
enum DebugCmd {
    /// Write visits one by one, printing each visit id after its commit (crash tests).
    WriteVisits {
        child: String,
        #[arg(long, default_value_t = 1000)]
        count: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    let json_out = cli.json;
    if let Err(e) = run(cli) {
        if json_out {
            println!("{}", json!({"error": e}));
        } else {
            eprintln!("错误：{}\nerror: {}", e.zh, e.en);
        }
        std::process::exit(1);
    }
}

/// A problem with what was typed on the command line, said in both languages.
fn usage(zh: impl Into<String>, en: impl Into<String>) -> UserError {
    UserError::new("usage", zh, en)
}

fn uuid_arg(what_zh: &str, raw: &str) -> Result<Value, UserError> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| json!(u))
        .map_err(|_| {
            usage(
                format!("{what_zh}编号格式不对：“{raw}”"),
                format!("not a valid id: {raw:?}"),
            )
        })
}

fn read_file(what_zh: &str, path: &Path) -> Result<Vec<u8>, UserError> {
    if path.is_dir() {
        return Err(usage(
            format!("{what_zh}“{}”是一个文件夹，请给出文件", path.display()),
            format!("{} is a folder, not a file", path.display()),
        ));
    }
    std::fs::read(path).map_err(|e| {
        let zh = if e.kind() == std::io::ErrorKind::NotFound {
            format!("找不到{what_zh}文件“{}”", path.display())
        } else {
            format!("无法读取{what_zh}文件“{}”", path.display())
        };
        usage(zh, format!("cannot read {}: {e}", path.display()))
    })
}

fn read_json(what_zh: &str, path: &Path) -> Result<Value, UserError> {
    let bytes = if path.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
            .map_err(|e| usage("无法读取标准输入", e.to_string()))?;
        b
    } else {
        read_file(what_zh, path)?
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        usage(
            format!(
                "{what_zh}“{}”不是有效的 JSON：第 {} 行第 {} 列",
                path.display(),
                e.line(),
                e.column()
            ),
            format!("{} is not valid JSON: {e}", path.display()),
        )
    })
}

fn fields_of(table: &str, set: &SetArgs) -> Result<Map<String, Value>, UserError> {
    let mut m = match &set.fields {
        Some(p) => match read_json("字段", p)? {
            Value::Object(m) => m,
            _ => {
                return Err(usage(
                    "--fields 的内容应是一个 JSON 对象 {…}",
                    "--fields must hold a JSON object",
                ))
            }
        },
        None => Map::new(),
    };
    for kv in &set.set {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            usage(
                format!("--set 的格式应为 字段=值，收到的是“{kv}”"),
                format!("--set expects FIELD=VALUE, got {kv:?}"),
            )
        })?;
        m.insert(
            k.trim().to_string(),
            domain::schema::value_from_text(table, k.trim(), v),
        );
    }
    Ok(m)
}

/// The checklist from `area=status[:note]` items, over the domain's all-normal one.
fn checklist(items: &[String]) -> Result<Value, UserError> {
    let mut m = match serde_json::to_value(domain::Checklist::all(domain::ItemStatus::Normal)) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for item in items {
        let (area, rest) = item.split_once('=').ok_or_else(|| {
            usage(
                format!(
                    "--item 的格式应为 方面=状态[:备注]，例如 health=watch:感冒；收到的是“{item}”"
                ),
                format!("--item expects area=status[:note], e.g. health=watch:cold; got {item:?}"),
            )
        })?;
        let (status, note) = match rest.split_once(':') {
            Some((s, n)) => (s, Some(n)),
            None => (rest, None),
        };
        let mut v = json!({"status": status.trim()});
        if let Some(n) = note {
            v["note"] = json!(n);
        }
        m.insert(area.trim().to_string(), v);
    }
    Ok(Value::Object(m))
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
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

fn run(cli: Cli) -> Result<(), UserError> {
    let config = AppConfig {
        clock_skew_ms: cli.clock_skew_ms,
        background_sync: None,
        watch_idle: false,
        ..AppConfig::default()
    };
    let app = DeviceApp::open_for_script(&cli.data, config, cli.pin.as_deref())?;
    let j = cli.json;
    let call = |cmd: &str, args: Value| app.call(cmd, args);
    match &cli.cmd {
        Cmd::Init { villages } => {
            let st = call("init", json!({"villages": villages}))?;
            print(j, &st, || {
                format!("设备 device {}", st["device_id"].as_str().unwrap_or(""))
            });
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
            let mut args = json!({
                "name": name, "sex": sex, "birth_date": birth_date, "village_code": village,
                "categories": categories, "risk_colour": risk, "id_number": id_number, "added_on": added_on,
            });
            drop_nulls(&mut args);
            if let Value::Object(m) = &mut args {
                m.extend(fields_of("child", set)?);
            }
            let r = call("add_child", args)?;
            let id = r["id"].clone();
            print(j, &json!({"child_id": id}), || {
                format!("已登记儿童 child added: {}", id.as_str().unwrap_or(""))
            });
        }
        Cmd::Child(ChildCmd::Edit { id, set }) => {
            let r = call(
                "edit_child",
                json!({"child_id": uuid_arg("儿童", id)?, "changes": fields_of("child", set)?}),
            )?;
            let n = r["changed"].as_u64().unwrap_or(0);
            print(j, &json!({"child_id": id, "changed": n}), || {
                format!("已修改 {n} 项 changed {n} field(s)")
            });
        }
        Cmd::Child(ChildCmd::Show { id }) => {
            let v = call("child_file", json!({"child_id": uuid_arg("儿童", id)?}))?;
            print(j, &v, || human_child_file(&v));
        }
        Cmd::Child(ChildCmd::Delete { id }) => {
            call("delete_child", json!({"child_id": uuid_arg("儿童", id)?}))?;
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
            let mut args =
                json!({"child_id": uuid_arg("儿童", child)?, "role": role, "name": name});
            if let Value::Object(m) = &mut args {
                m.extend(fields_of("guardian", set)?);
            }
            let r = call("add_guardian", args)?;
            print(j, &json!({"guardian_id": r["id"]}), || {
                format!(
                    "已添加监护人 guardian added: {}",
                    r["id"].as_str().unwrap_or("")
                )
            });
        }
        Cmd::Record { table, set } => {
            let r = call(
                "add_record",
                json!({"table": table, "fields": fields_of(table, set)?}),
            )?;
            print(j, &json!({"id": r["id"], "table": table}), || {
                format!("已保存 saved {table} {}", r["id"].as_str().unwrap_or(""))
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
            let child_id = uuid_arg("儿童", child)?;
            let mut args = json!({
                "child_id": child_id, "mode": mode, "risk_colour": risk, "visitor": visitor,
                "visited_at": at, "checklist": checklist(items)?, "actions": [],
            });
            drop_nulls(&mut args);
            if let Value::Object(m) = &mut args {
                m.extend(fields_of("visit", set)?);
            }
            let mut images = Vec::new();
            for p in photos {
                images.push(json!({"image_base64": b64(&read_file("照片", p)?)}));
            }
            args["photos"] = Value::Array(images);
            let r = call("record_visit", args)?;
            print(j, &r, || {
                format!(
                    "已记录走访 visit recorded: {} ({} 张照片 photos)",
                    r["visit_id"].as_str().unwrap_or(""),
                    r["photo_ids"].as_array().map_or(0, Vec::len)
                )
            });
        }
        Cmd::Visit(VisitCmd::Void { id, reason }) => {
            call(
                "void_visit",
                json!({"visit_id": uuid_arg("走访", id)?, "reason": reason}),
            )?;
            print(j, &json!({"visit_id": id, "voided": true}), || {
                "已作废 visit voided".into()
            });
        }
        Cmd::Agreement(AgreementCmd::Draft {
            child,
            terms,
            draft,
        }) => {
            let terms = read_json("协议条款", terms)?;
            let draft_id = draft
                .as_deref()
                .map(|d| uuid_arg("协议草稿", d))
                .transpose()?;
            let r = call(
                "save_agreement_draft",
                json!({"child_id": uuid_arg("儿童", child)?, "draft_id": draft_id, "terms": terms}),
            )?;
            print(j, &json!({"draft_id": r["id"]}), || {
                format!(
                    "协议草稿已保存 draft saved: {}",
                    r["id"].as_str().unwrap_or("")
                )
            });
        }
        Cmd::Agreement(AgreementCmd::Preview { draft }) => {
            let p = call(
                "agreement_preview",
                json!({"draft_id": uuid_arg("协议草稿", draft)?}),
            )?;
            print(j, &p, || {
                let mut out = format!(
                    "{}\n\nsha256 {}\n",
                    p["text"].as_str().unwrap_or(""),
                    p["sha256"].as_str().unwrap_or("")
                );
                for problem in p["problems"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "缺少 missing: {} / {}\n",
                        problem["zh"].as_str().unwrap_or(""),
                        problem["en"].as_str().unwrap_or("")
                    ));
                }
                out
            });
        }
        Cmd::Agreement(AgreementCmd::Sign {
            draft,
            signatures,
            sha256,
        }) => {
            let draft_id = uuid_arg("协议草稿", draft)?;
            let mut signers = Vec::new();
            for s in signatures {
                let mut parts = s.splitn(3, ':');
                let (Some(role), Some(name), Some(path)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(usage(
                        format!("--signature 的格式应为 身份:姓名:签名图片，收到的是“{s}”"),
                        format!("--signature expects role:name:image.png, got {s:?}"),
                    ));
                };
                let image = read_file("签名图片", Path::new(path))?;
                signers.push(
                    json!({"role": role, "name": name, "signature": {"image_base64": b64(&image)}}),
                );
            }
            let sha256 = sha256.as_deref().ok_or_else(|| {
                usage(
                    format!("请用 --sha256 给出签字人所读协议文本的指纹（fieldctl agreement preview {draft} 显示）"),
                    format!("give --sha256 of the text the signers read (fieldctl agreement preview {draft})"),
                )
            })?;
            let signed = call(
                "sign_agreement",
                json!({"draft_id": draft_id, "sha256": sha256, "signers": signers}),
            )?;
            print(j, &signed, || {
                format!(
                    "协议已签署 agreement signed: version {} sha256 {}",
                    signed["version"],
                    signed["text_sha256"].as_str().unwrap_or("")
                )
            });
        }
        Cmd::Task(TaskCmd::List { all }) => {
            let v = call("tasks", json!({"include_closed": all}))?;
            print(j, &v, || {
                let list: Vec<TaskView> = serde_json::from_value(v.clone()).unwrap_or_default();
                let mut out = format!("{} 项任务 task(s)\n", list.len());
                for t in &list {
                    // A finding is told from what it found, as the app tells it (the
                    // stored title is written for phones on the release before
                    // discovery, and asks them to update).
                    let what = match &t.finding {
                        Some(f) => format!(
                            "{}（{}） {}：{}",
                            f.list_name,
                            f.list_month,
                            domain::labels::code_label_zh(&f.finding),
                            f.person
                                .as_ref()
                                .map(|p| p.name.as_str())
                                .or(f.adult.as_ref().map(|a| a.name.as_str()))
                                .unwrap_or("")
                        ),
                        None => t.title.clone(),
                    };
                    out.push_str(&format!(
                        "{}  {}{}  {}\n",
                        t.task_id,
                        t.age_days
                            .map(|d| format!("已{d}天 {d} day(s) old"))
                            .unwrap_or_default(),
                        if t.open { "" } else { "  已办结 closed" },
                        what
                    ));
                }
                out
            });
        }
        Cmd::Task(TaskCmd::Show { id }) => {
            let v = call("task", json!({"task_id": uuid_arg("任务", id)?}))?;
            print(j, &v, || human_task(&v));
        }
        Cmd::Task(TaskCmd::Close {
            id,
            outcome,
            note,
            child,
            categories,
            set,
        }) => {
            let task_id = uuid_arg("任务", id)?;
            let r = if outcome.trim() == "registered" {
                let detail = call("task", json!({"task_id": task_id}))?;
                let mut form = match detail.get("register") {
                    Some(Value::Object(m)) => m
                        .iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<Map<String, Value>>(),
                    _ => {
                        return Err(usage(
                            "这项任务不能登记为新儿童（已办结，或针对已在台账上的儿童）",
                            "this task cannot be closed by registering a new child",
                        ))
                    }
                };
                form.insert("categories".into(), json!(categories));
                form.extend(fields_of("child", set)?);
                call("add_child", Value::Object(form))?
            } else {
                let child = child.as_deref().map(|c| uuid_arg("儿童", c)).transpose()?;
                call(
                    "close_task",
                    json!({"task_id": task_id, "outcome": outcome, "note": note, "child_id": child}),
                )?
            };
            print(j, &r, || format!("任务已办结 task closed ({outcome})"));
        }
        Cmd::Roster {
            category,
            risk,
            overdue,
            search,
            include_exited,
        } => {
            let v = call(
                "roster",
                json!({"category": category, "risk_colour": risk, "overdue_only": overdue,
                       "search": search, "include_exited": include_exited}),
            )?;
            print(j, &v, || {
                let entries: Vec<RosterItem> =
                    serde_json::from_value(v.clone()).unwrap_or_default();
                let mut out = format!("{} 名儿童 children\n", entries.len());
                for e in &entries {
                    let unsynced = if e.last_visit_unsynced {
                        " (走访未同步 visit not synced)"
                    } else {
                        ""
                    };
                    out.push_str(&format!(
                        "{}  {}  {}  下次 next {}  {} {}{}\n",
                        e.child_id,
                        e.name,
                        e.risk_colour,
                        e.next_due_on.as_deref().unwrap_or("—"),
                        e.due_zh,
                        e.due_en,
                        unsynced
                    ));
                }
                out
            });
        }
        Cmd::Enroll { server, code, name } => {
            let st = call(
                "enroll",
                json!({"server_url": server, "code": code, "device_name": name}),
            )?;
            print(j, &st, || {
                format!(
                    "登记成功 enrolled: {} ({}) 村 villages {}",
                    st["account_id"].as_str().unwrap_or(""),
                    st["role"].as_str().unwrap_or(""),
                    st["villages"]
                )
            });
        }
        Cmd::Sync {
            retries,
            batch,
            page,
            no_thumbnails,
        } => {
            show_progress(&app, j);
            let st = call(
                "sync_now",
                json!({"wait": true, "retries": retries, "push_batch": batch, "pull_page": page,
                       "fetch_thumbnails": !no_thumbnails}),
            )?;
            let v = st["last_round"].clone();
            let r: SyncSummary = serde_json::from_value(v.clone()).unwrap_or_default();
            print(j, &v, || {
                let mut out = format!(
                    "同步完成 synced: 上传 pushed {} 条, 被拒 rejected {}, 下载 pulled {} 条, 照片 photos {} ({} bytes), 缩略图 thumbnails {}",
                    r.pushed, r.rejected, r.pulled, r.photos_uploaded, r.photo_bytes_sent, r.thumbnails_fetched
                );
                if !r.children_left.is_empty() {
                    let names: Vec<String> = r
                        .children_left
                        .iter()
                        .map(|c| format!("{}（{}）", c.name, c.village))
                        .collect();
                    out.push_str(&format!(
                        "\n已不在本机负责的村，档案已移出本机 left this phone: {}",
                        names.join("、")
                    ));
                }
                out
            });
        }
        Cmd::Rejected => {
            let st = call("sync_state", json!({}))?;
            let rejected = st["rejected"].clone();
            print(j, &rejected, || {
                let list = rejected.as_array().cloned().unwrap_or_default();
                let mut out = format!("{} 条被退回 rejected change(s)\n", list.len());
                for r in &list {
                    out.push_str(&format!(
                        "{} {}·{}：{}{}\n    {} {}\n",
                        r["device_seq"],
                        r["table_zh"].as_str().unwrap_or(""),
                        r["field_zh"].as_str().unwrap_or(""),
                        r["zh"].as_str().unwrap_or(""),
                        r["todo_zh"].as_str().unwrap_or(""),
                        r["en"].as_str().unwrap_or(""),
                        r["todo_en"].as_str().unwrap_or("")
                    ));
                }
                out
            });
        }
        Cmd::Status => {
            let st = call("status", json!({}))?;
            print(j, &st, || {
                format!(
                    "设备 device {}\n儿童 children {}  记录 records {}\n待发送 outbox {} 条 changes (最早 oldest {} s)\n被拒绝 rejected {}\n待上传照片 pending blobs {} ({} bytes)\n已确认 acked seq {} / 最后 last seq {}\n拉取游标 pull cursor {}  时钟偏差 clock offset {} ms",
                    st["device_id"].as_str().unwrap_or(""),
                    st["children"], st["records"], st["outbox_changes"],
                    st.get("oldest_pending_secs").filter(|v| !v.is_null()).map(Value::to_string).unwrap_or("—".into()),
                    st["rejected_changes"], st["pending_blobs"], st["pending_blob_bytes"],
                    st["acked_seq"], st["last_device_seq"], st["pull_cursor"], st["clock_offset_ms"]
                )
            });
        }
        Cmd::Export => {
            let v = call("export", json!({}))?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Cmd::Checksums => {
            let v = call("checksums", json!({}))?;
            print(j, &v, || {
                v.as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(s, c)| {
                                format!(
                                    "{s}  {} fields  {}",
                                    c["fields"],
                                    c["sum"].as_str().unwrap_or("")
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default()
            });
        }
        Cmd::Call { command, args } => {
            let args: Value = serde_json::from_str(args).map_err(|e| {
                usage(
                    format!("参数不是有效的 JSON：第 {} 列", e.column()),
                    format!("args are not valid JSON: {e}"),
                )
            })?;
            let v = call(command, args)?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Cmd::Debug(DebugCmd::WriteVisits { child, count }) => {
            // A loop of one device command, for the crash tests.
            let child_id = uuid_arg("儿童", child)?;
            let stdout = std::io::stdout();
            for i in 0..*count {
                let r = call(
                    "record_visit",
                    json!({"child_id": child_id, "mode": "home", "visitor": "测试", "risk_colour": "green",
                           "checklist": checklist(&[])?, "actions": [], "narrative": format!("第{i}次走访")}),
                )?;
                let mut out = stdout.lock();
                let _ = writeln!(out, "{}", r["visit_id"].as_str().unwrap_or(""));
                let _ = out.flush();
            }
        }
    }
    Ok(())
}

/// Values left out are left to the device (the domain's defaults), not sent as null.
fn drop_nulls(args: &mut Value) {
    if let Value::Object(m) = args {
        m.retain(|_, v| !v.is_null());
    }
}

/// Draws the device's sync progress events as a bar on a terminal (and says each
/// retry's wait).
fn show_progress(app: &Arc<DeviceApp>, json_out: bool) {
    use indicatif::{ProgressBar, ProgressStyle};
    use std::io::IsTerminal;
    if json_out || !std::io::stderr().is_terminal() {
        return;
    }
    let b = ProgressBar::new(0);
    b.set_style(
        ProgressStyle::with_template("{msg:10} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    app.subscribe(Arc::new(move |e: &field_app::AppEvent| {
        if let field_app::AppEvent::SyncProgress(p) = e {
            b.set_message(p.step_zh.clone());
            if p.bytes_total > 0 {
                b.set_length(p.bytes_total);
                b.set_position(p.bytes_done);
            } else {
                b.set_length(p.records_total.max(p.records_done));
                b.set_position(p.records_done);
            }
        }
    }));
}

/// `fieldctl task show`: the task in plain words, Chinese then English.
fn human_task(v: &Value) -> String {
    let t = &v["task"];
    let s = |x: &Value| x.as_str().unwrap_or("").to_string();
    let mut out = format!("{}\n", s(&t["title"]));
    if let Some(d) = t["age_days"].as_i64() {
        out.push_str(&format!("下发 {d} 天 issued {d} day(s) ago\n"));
    }
    if let Some(f) = t.get("finding").filter(|f| !f.is_null()) {
        out.push_str(&format!(
            "名单 list: {}（{}） {}\n",
            s(&f["list_name"]),
            s(&f["list_month"]),
            domain::labels::code_label_zh(f["finding"].as_str().unwrap_or(""))
        ));
        if let Some(p) = f.get("person").filter(|p| !p.is_null()) {
            out.push_str(&format!(
                "名单上的人 listed: {} {} {} {}\n",
                s(&p["name"]),
                s(&p["id_number"]),
                s(&p["birth_date"]),
                s(&p["address"])
            ));
        }
        if let Some(a) = f.get("adult").filter(|a| !a.is_null()) {
            out.push_str(&format!(
                "匹配的成年人 adult matched: {} {} {}{}\n",
                s(&a["relationship"]),
                s(&a["name"]),
                s(&a["id_number_masked"]),
                a["disability_grade"]
                    .as_u64()
                    .map(|g| format!(" 残疾{g}级 disability grade {g}"))
                    .unwrap_or_default()
            ));
        }
        if !s(&f["meaning"]).is_empty() {
            out.push_str(&format!("{}\n", s(&f["meaning"])));
        }
    }
    if let Some(c) = v.get("closing").filter(|c| !c.is_null()) {
        out.push_str(&format!(
            "已办结 closed {}: {} {}\n",
            s(&c["done_on"]),
            domain::labels::code_label_zh(c["outcome"].as_str().unwrap_or("")),
            s(&c["note"])
        ));
    }
    if let Some(f) = v.get("file_on_phone").filter(|f| !f.is_null()) {
        out.push_str(&format!(
            "本机已有此人的档案 a file on this phone has this ID number: {} {}\n",
            s(&f["name"]),
            s(&f["child_id"])
        ));
    }
    out
}

fn human_child_file(v: &Value) -> String {
    let c = &v["child"];
    let mut out = format!(
        "{} ({})  出生 born {}  村 village {}\n身份证 ID {}\n类别 categories {}  风险 risk {}\n",
        c["name"].as_str().unwrap_or(""),
        c["sex"].as_str().unwrap_or(""),
        c["birth_date"].as_str().unwrap_or(""),
        c["village_code"].as_str().unwrap_or(""),
        c["id_number"].as_str().unwrap_or("—"),
        c["categories"],
        c["risk_colour"].as_str().unwrap_or("")
    );
    for (label, key) in [
        ("监护人 guardians", "guardians"),
        ("走访 visits", "visits"),
        ("协议 agreements", "agreements"),
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
