//! `sync-server`: serve the sync API, or administer accounts and devices on the same
//! storage (`--data` / `--database-url`), or benchmark ingest.

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use sync_server::settings::{BlobSettings, Settings};

#[derive(Parser)]
#[command(name = "sync-server", about = "Tonghu sync server and admin CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct StorageArgs {
    /// Data folder for the embedded default (SQLite file and blobs). Env TONGHU_DATA.
    #[arg(long)]
    data: Option<PathBuf>,
    /// postgres://… selects PostgreSQL. Env TONGHU_DATABASE_URL.
    #[arg(long)]
    database_url: Option<String>,
    /// s3://bucket stores blobs in S3-compatible storage. Env TONGHU_BLOBS.
    #[arg(long)]
    blobs: Option<String>,
    /// Endpoint of the S3-compatible service. Env TONGHU_S3_ENDPOINT.
    #[arg(long)]
    s3_endpoint: Option<String>,
    /// The deployment's time zone for every date and time shown, exported or used by
    /// the due rules (`+08:00`, China Standard Time, by default). Env TONGHU_TIME_ZONE.
    #[arg(long)]
    time_zone: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync API.
    Serve {
        #[command(flatten)]
        storage: StorageArgs,
        /// Address to listen on. Env TONGHU_LISTEN. Default 127.0.0.1:8470.
        #[arg(long)]
        listen: Option<String>,
        /// Largest allowed lead of a change's clock over the server's, ms. Env TONGHU_MAX_AHEAD_MS.
        #[arg(long)]
        max_ahead_ms: Option<u64>,
        /// The newest app version this deployment offers (e.g. 0.2.0): phones on an
        /// older version are told an update is available. Env TONGHU_LATEST_APP_VERSION.
        #[arg(long)]
        latest_app_version: Option<String>,
        /// Seed the demo city if the storage is empty.
        #[arg(long)]
        seed_demo: bool,
    },
    /// Administer accounts and devices.
    Admin {
        #[command(flatten)]
        storage: StorageArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Measure the console's township and city overviews on a seeded city.
    BenchConsole {
        #[command(flatten)]
        storage: StorageArgs,
        /// Children in the city.
        #[arg(long, default_value_t = 60_000)]
        children: usize,
        /// Timed rounds per view.
        #[arg(long, default_value_t = 15)]
        rounds: usize,
        /// Measure again on a store an earlier run seeded (no new seeding).
        #[arg(long)]
        reuse: bool,
    },
    /// Active discovery: a city-sized list previewed and committed on a fresh store,
    /// beside the baseline of parsing the same file alone.
    BenchDiscovery {
        #[command(flatten)]
        storage: StorageArgs,
        /// Rows of the list.
        #[arg(long, default_value_t = 200_000)]
        rows: usize,
        /// csv or xlsx.
        #[arg(long, default_value = "csv")]
        format: String,
    },
    /// Measure push ingest and pull throughput against a fresh store.
    BenchIngest {
        #[command(flatten)]
        storage: StorageArgs,
        /// Total changes to ingest.
        #[arg(long, default_value_t = 200_000)]
        changes: usize,
        /// Changes per push.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Concurrent pushing devices.
        #[arg(long, default_value_t = 8)]
        devices: usize,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Import places and accounts from a roster CSV (see the README for its columns).
    Import {
        #[arg(long)]
        file: PathBuf,
    },
    /// Issue a one-time enrollment code for an account.
    EnrollCode {
        #[arg(long)]
        account: String,
        #[arg(long, default_value_t = 72)]
        ttl_hours: u64,
    },
    /// List devices.
    Devices {
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a device: its next contact is refused and it wipes itself.
    Revoke {
        #[arg(long)]
        device: uuid::Uuid,
    },
    /// Set up devices without enrollment codes (phones handed out ready, load tests):
    /// one device per account, printed as JSON lines {login, device_id, token, scopes, …}.
    Provision {
        /// Accounts to provision, by login (repeatable)…
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// …and/or every account of this role in a roster CSV.
        #[arg(long, requires = "role")]
        roster: Option<PathBuf>,
        #[arg(long)]
        role: Option<String>,
        /// Write the JSON lines here instead of standard output (tokens are secrets).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Changes revoked phones handed over, kept aside until someone decides.
    Quarantine {
        #[arg(long)]
        device: Option<uuid::Uuid>,
    },
    /// Apply a revoked phone's quarantined changes (after review).
    AcceptQuarantine {
        #[arg(long)]
        device: uuid::Uuid,
    },
    /// Who changed which field of a record, when.
    Audit {
        #[arg(long)]
        row: uuid::Uuid,
    },
    /// Seed the demo city.
    SeedDemo,
    /// Issue a one-time console login code for a supervisor or admin (their next login
    /// sets their password).
    LoginCode {
        #[arg(long)]
        account: String,
    },
    /// Print a demo allowance list for the demo city (CSV, as a county office sends
    /// it): `--kind dibao_rural` or `--kind disability_care`.
    DemoList {
        #[arg(long)]
        kind: String,
        /// The list's month, e.g. 2026-12 (its title names it).
        #[arg(long)]
        month: String,
    },
    /// Active discovery: match a month's allowance list (XLSX, XLS or CSV) against the
    /// roster of the admin's area, print the preview, and write the findings as tasks
    /// in their villages (unless --dry-run). The file is read in memory, never kept.
    ImportList {
        /// The county or city admin importing (their area is matched).
        #[arg(long)]
        account: String,
        /// The list kind's code (dibao_urban, dibao_rural, tekun, disability_living,
        /// disability_care, or a county's own).
        #[arg(long)]
        kind: String,
        /// The list's month, e.g. 2026-05.
        #[arg(long)]
        month: String,
        #[arg(long)]
        file: PathBuf,
        /// Column of a field when the header is not recognised, e.g. --map id_number=C
        /// (a letter or a 1-based number; repeatable).
        #[arg(long = "map")]
        map: Vec<String>,
        /// Preview only.
        #[arg(long)]
        dry_run: bool,
    },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn settings_from(storage: &StorageArgs) -> anyhow::Result<Settings> {
    let mut s = Settings::default();
    if let Some(d) = storage
        .data
        .clone()
        .or_else(|| env("TONGHU_DATA").map(PathBuf::from))
    {
        s.data_dir = d;
    }
    s.database_url = storage
        .database_url
        .clone()
        .or_else(|| env("TONGHU_DATABASE_URL"));
    if let Some(b) = storage.blobs.clone().or_else(|| env("TONGHU_BLOBS")) {
        let Some(bucket) = b.strip_prefix("s3://") else {
            bail!("--blobs must be s3://bucket")
        };
        s.blobs = BlobSettings::S3 {
            bucket: bucket.trim_end_matches('/').to_string(),
            endpoint: storage
                .s3_endpoint
                .clone()
                .or_else(|| env("TONGHU_S3_ENDPOINT"))
                .context("--s3-endpoint (or TONGHU_S3_ENDPOINT) is required with s3 blobs")?,
            region: env("TONGHU_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
            access_key: env("TONGHU_S3_ACCESS_KEY")
                .or_else(|| env("AWS_ACCESS_KEY_ID"))
                .context("TONGHU_S3_ACCESS_KEY is required with s3 blobs")?,
            secret_key: env("TONGHU_S3_SECRET_KEY")
                .or_else(|| env("AWS_SECRET_ACCESS_KEY"))
                .context("TONGHU_S3_SECRET_KEY is required with s3 blobs")?,
        };
    }
    if let Some(z) = storage
        .time_zone
        .clone()
        .or_else(|| env("TONGHU_TIME_ZONE"))
    {
        let zone = sync_server::model::clock::parse_zone(&z).with_context(|| {
            format!("time zone {z:?}: write it as an offset from UTC, e.g. +08:00")
        })?;
        sync_server::model::clock::set_zone(zone);
    }
    if let Some(ms) = env("TONGHU_MAX_AHEAD_MS") {
        s.max_ahead_ms = ms.parse().context("TONGHU_MAX_AHEAD_MS must be a number")?;
    }
    Ok(s)
}

/// `sync-server admin import-list`: the same core as the console's import page.
async fn import_list(
    state: &sync_server::handlers::AppState,
    account: &str,
    kind: &str,
    month: &str,
    file: &std::path::Path,
    map: &[String],
    dry_run: bool,
) -> anyhow::Result<()> {
    use sync_server::discovery::{list_file, Read};
    let db = state.db.as_ref();
    let plain = |e: sync_server::console::ConsoleError| match e {
        sync_server::console::ConsoleError::BadInput { zh, en, .. } => {
            anyhow::anyhow!("{zh}\n{en}")
        }
        other => anyhow::anyhow!("{other}"),
    };
    let viewer = sync_server::discovery::acting_admin(db, account)
        .await?
        .with_context(|| format!("{account} is not a county or city admin"))?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message("读取并核对名单 reading and matching the list…");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let (read, pending) = state
        .discovery
        .read(db, &viewer, name, &bytes, kind, month)
        .await
        .map_err(plain)?;
    drop(bytes);
    let prepared = match read {
        Read::Ready(p) => *p,
        Read::NeedsMapping {
            headers,
            map: mut guessed,
            missing,
        } => {
            for m in map {
                let (field, col) = m
                    .split_once('=')
                    .context("--map takes field=column, e.g. id_number=C")?;
                let field = list_file::Column::from_code(field.trim())
                    .with_context(|| format!("unknown field {field}"))?;
                guessed.insert(
                    field,
                    list_file::column_index(col.trim())
                        .with_context(|| format!("unknown column {col}"))?,
                );
            }
            if !list_file::missing_columns(&guessed).is_empty() {
                bar.finish_and_clear();
                eprintln!("未能识别这些列，请用 --map 指定 (columns not recognised; give them with --map):");
                for c in missing {
                    eprintln!("  {} ({})", c.code(), c.label_zh());
                }
                eprintln!("表头 header:");
                for (i, h) in headers.iter().enumerate() {
                    eprintln!("  {} = {h}", list_file::column_letter(i));
                }
                bail!("column mapping needed");
            }
            let pending = pending.context("the file's sheet")?;
            state
                .discovery
                .prepare(db, &viewer, &pending, &guessed)
                .await
                .map_err(plain)?
        }
    };
    bar.finish_and_clear();
    let f = prepared.figures();
    println!(
        "rows read {}\tminors {}\ton roster {}\tfindings {}\tnew tasks {}\tnew in queue {}\tinvalid rows {}\twithout village {}\tduplicates {}",
        f.rows_read, f.minors, f.on_roster, f.findings, f.new_tasks, f.new_queued, f.invalid_rows, f.no_village, f.duplicates
    );
    for p in prepared.problems() {
        eprintln!("{}", p.zh);
    }
    if dry_run {
        eprintln!("预览完毕，未写入（--dry-run） preview only, nothing written");
        return Ok(());
    }
    let total = f.new_tasks;
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} 项任务字段 task fields {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let bar2 = bar.clone();
    let record = state
        .discovery
        .commit(
            db,
            &viewer,
            &prepared,
            sync_server::model::clock::today(),
            &move |done, total| {
                bar2.set_length(total as u64);
                bar2.set_position(done as u64);
            },
        )
        .await
        .map_err(plain)?;
    bar.finish_and_clear();
    println!(
        "imported {} ({} {}): {} new tasks, {} new in the county's queue",
        record.import_id, record.list_kind, record.list_month, record.new_tasks, record.queued
    );
    Ok(())
}

fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| ms.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tokio_postgres=warn".into()),
        )
        // Logs go to standard error: standard output is for answers (codes, tokens, lists).
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            storage,
            listen,
            max_ahead_ms,
            latest_app_version,
            seed_demo,
        } => {
            let mut settings = settings_from(&storage)?;
            if let Some(l) = listen.or_else(|| env("TONGHU_LISTEN")) {
                settings.listen = l;
            }
            if let Some(m) = max_ahead_ms {
                settings.max_ahead_ms = m;
            }
            settings.latest_app_version = latest_app_version
                .or_else(|| env("TONGHU_LATEST_APP_VERSION"))
                .map(|v| v.trim().chars().take(40).collect::<String>())
                .filter(|v| !v.is_empty());
            tracing::info!(?settings, "starting");
            let state = sync_server::server::build_state(settings.clone())
                .await
                .context("opening storage")?;
            if seed_demo && state.db.is_empty().await? {
                let seed = sync_server::demo::seed_demo(state.db.as_ref()).await?;
                print_seed(&seed);
            }
            let listener = tokio::net::TcpListener::bind(&settings.listen)
                .await
                .with_context(|| format!("binding {}", settings.listen))?;
            tracing::info!(addr = %listener.local_addr()?, "listening");
            eprintln!(
                "supervisor console: http://{}/console",
                listener.local_addr()?
            );
            sync_server::server::run(state, listener).await?;
        }
        Command::BenchDiscovery {
            storage,
            rows,
            format,
        } => {
            let settings = settings_from(&storage)?;
            let format = match format.as_str() {
                "csv" => sync_server::bench_discovery::Format::Csv,
                "xlsx" => sync_server::bench_discovery::Format::Xlsx,
                other => bail!("--format is csv or xlsx, not {other}"),
            };
            let report = sync_server::bench_discovery::run(settings, rows, format).await?;
            println!("{report}");
        }
        Command::Admin { storage, command } => {
            let settings = settings_from(&storage)?;
            let state = sync_server::server::build_state(settings)
                .await
                .context("opening storage")?;
            let db = state.db.as_ref();
            match command {
                AdminCommand::Import { file } => {
                    let text = std::fs::read_to_string(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    let roster = sync_server::roster::Roster::parse(&text)?;
                    let s = db.import_roster(&roster).await?;
                    println!("imported {} places and {} accounts", s.places, s.accounts);
                }
                AdminCommand::EnrollCode { account, ttl_hours } => {
                    let issued = sync_server::enrollment::issue_code(
                        db,
                        &account,
                        ttl_hours,
                        sync_server::model::clock::now_ms() as i64,
                    )
                    .await
                    .map_err(anyhow::Error::from)?;
                    println!("{}", issued.code);
                    eprintln!("one-time enrollment code for {account}, valid {ttl_hours} h");
                }
                AdminCommand::Devices { account } => {
                    println!("device_id\taccount\tname\tapp_version\tenrolled\tlast_seen\tmax_device_seq\tpending\trevoked");
                    for d in db.devices(account.as_deref()).await? {
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                            d.device_id,
                            d.account_login,
                            d.name,
                            d.app_version,
                            fmt_ms(d.enrolled_ms),
                            d.last_seen_ms.map(fmt_ms).unwrap_or_else(|| "-".into()),
                            d.max_device_seq,
                            d.heartbeat
                                .map(|h| h.pending_changes.to_string())
                                .unwrap_or_else(|| "-".into()),
                            d.revoked_ms.map(fmt_ms).unwrap_or_else(|| "-".into())
                        );
                    }
                }
                AdminCommand::Provision {
                    accounts,
                    roster,
                    role,
                    out,
                } => {
                    let mut logins = accounts;
                    if let (Some(file), Some(role)) = (roster, role) {
                        let text = std::fs::read_to_string(&file)
                            .with_context(|| format!("reading {}", file.display()))?;
                        let roster = sync_server::roster::Roster::parse(&text)?;
                        logins.extend(
                            roster
                                .accounts
                                .into_iter()
                                .filter(|a| a.role.as_str() == role)
                                .map(|a| a.login),
                        );
                    }
                    let mut lines = String::new();
                    for login in &logins {
                        let p = sync_server::enrollment::provision_device(
                            db,
                            login,
                            "provisioned",
                            sync_server::model::clock::now_ms() as i64,
                        )
                        .await?;
                        lines.push_str(&serde_json::to_string(&p)?);
                        lines.push('\n');
                    }
                    match out {
                        Some(path) => {
                            std::fs::write(&path, lines)
                                .with_context(|| format!("writing {}", path.display()))?;
                            eprintln!(
                                "provisioned {} device(s) into {}",
                                logins.len(),
                                path.display()
                            );
                        }
                        None => print!("{lines}"),
                    }
                }
                AdminCommand::Quarantine { device } => {
                    println!("device_id\treceived\tdevice_seq\ttable.field\trow_id");
                    for q in db.quarantined(device).await? {
                        println!(
                            "{}\t{}\t{}\t{}.{}\t{}",
                            q.device_id,
                            fmt_ms(q.received_ms),
                            q.change.device_seq,
                            q.change.table,
                            q.change.field,
                            q.change.row_id
                        );
                    }
                }
                AdminCommand::AcceptQuarantine { device } => {
                    let out = sync_server::provision::accept_quarantine(db, device).await?;
                    println!(
                        "accepted {} change(s), rejected {}",
                        out.accepted,
                        out.rejected.len()
                    );
                    for r in out.rejected {
                        println!("  {} {}: {}", r.device_seq, r.code, r.message);
                    }
                }
                AdminCommand::Revoke { device } => {
                    if !db
                        .revoke_device(device, sync_server::model::clock::now_ms() as i64)
                        .await?
                    {
                        bail!("no device {device}");
                    }
                    println!("revoked {device}");
                }
                AdminCommand::Audit { row } => {
                    println!("received\taccount\tdevice\ttable.field\thlc\top_id");
                    for e in db.audit_row(row).await? {
                        println!(
                            "{}\t{}\t{}\t{}.{}\t{}\t{}",
                            fmt_ms(e.received_ms),
                            e.account_login,
                            e.device_id,
                            e.table,
                            e.field,
                            e.hlc,
                            e.op_id
                        );
                    }
                }
                AdminCommand::LoginCode { account } => {
                    match sync_server::console::people::issue_login_code(
                        db,
                        &account,
                        sync_server::model::clock::now_ms() as i64,
                    )
                    .await?
                    {
                        Some(code) => {
                            println!("{code}");
                            eprintln!("one-time console login code for {account}, valid 72 h");
                        }
                        None => bail!("no supervisor or admin account {account}"),
                    }
                }
                AdminCommand::SeedDemo => {
                    let seed = sync_server::demo::seed_demo(db).await?;
                    print_seed(&seed);
                }
                AdminCommand::DemoList { kind, month } => {
                    let csv = sync_server::demo::demo_allowance_list(&kind, &month).with_context(
                        || {
                            format!(
                                "no demo list of kind {kind:?}: try dibao_rural or disability_care"
                            )
                        },
                    )?;
                    print!("{csv}");
                }
                AdminCommand::ImportList {
                    account,
                    kind,
                    month,
                    file,
                    map,
                    dry_run,
                } => {
                    import_list(&state, &account, &kind, &month, &file, &map, dry_run).await?;
                }
            }
        }
        Command::BenchConsole {
            storage,
            children,
            rounds,
            reuse,
        } => {
            let settings = settings_from(&storage)?;
            let shape = sync_server::bench_console::Shape {
                children,
                ..Default::default()
            };
            let report = sync_server::bench_console::run(settings, shape, rounds, reuse).await?;
            println!("{report}");
        }
        Command::BenchIngest {
            storage,
            changes,
            batch,
            devices,
        } => {
            let settings = settings_from(&storage)?;
            let report = sync_server::bench::run(settings, changes, batch, devices).await?;
            println!("{report}");
        }
    }
    Ok(())
}

fn print_seed(seed: &sync_server::demo::DemoSeed) {
    println!("demo city seeded: {} children", seed.children);
    println!(
        "director   {}  enrollment code {}",
        seed.director_login, seed.director_code
    );
    println!(
        "supervisor {}  enrollment code {}",
        seed.supervisor_login, seed.supervisor_code
    );
    for (login, code) in &seed.console_codes {
        println!("console    {login}  one-time login code {code}");
    }
}
