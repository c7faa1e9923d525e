//! `village-link`: a director's phone syncing over a village's weak link (issue 16 §5).
//!
//! Starts the real `sync-server` (SQLite, a temporary folder) and, between it and each
//! phone, a shaped link (`tonghu_tests::proxy::ShapedLink`: bandwidth, round-trip
//! time, loss, cuts). Phones are real field-store stores. Three runs, each timed from
//! the start of the sync to its successful end, retries included (the device's own
//! retry policy, as the app runs it):
//!
//! 1. **A director's day**: 4 visits with a photo each (photos from the real pipeline
//!    at the photo budget), synced at 250 kbit/s, 300 ms round trips, 2 % loss.
//!    Goal ≤ 60 s.
//! 2. **A new village phone's first sync**: the village's 30 children with a year of
//!    visits (monthly for every third child, quarterly for the others; a photo at
//!    every third visit) and their thumbnails, on the same link. Goal ≤ 30 s.
//! 3. **The same day, cut every 20 s**: it completes; the photo bytes sent more than
//!    once are counted (at most one chunk per cut).
//!
//! And the bytes on the wire (both ways, HTTP headers included, as the link counts
//! them) per visit and per photo, beside the naive whole-record JSON of the same
//! records in the same run. Prints a JSON report and the rows for BENCHMARKS.md.
//!
//! `cargo build --release -p sync-server -p tonghu-tests --bins && target/release/village-link`

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::Parser;
use field_store::photo::{process_photo, PhotoLimits, ProcessedPhoto};
use field_store::retry::RetryPolicy;
use field_store::sync::{SyncOptions, SyncReport};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonghu_tests::proxy::{LinkShape, ShapedLink};
use tonghu_tests::{camera_photo, checklist, obj, Backend, Device, TestServer};
use uuid::Uuid;

#[derive(Parser)]
#[command(about = "Tonghu over a village's weak link: a director's day, a first sync, cuts")]
struct Args {
    /// Bandwidth of each direction, kbit/s.
    #[arg(long, default_value_t = 250)]
    kbit: u64,
    /// Round-trip time, ms.
    #[arg(long, default_value_t = 300)]
    rtt_ms: u64,
    /// Segment loss (0..1).
    #[arg(long, default_value_t = 0.02)]
    loss: f64,
    /// Seconds between cuts in the third run.
    #[arg(long, default_value_t = 20)]
    cut_every: u64,
    /// Visits (each with one photo) in the director's day.
    #[arg(long, default_value_t = 4)]
    visits: usize,
    /// Children in the new phone's village.
    #[arg(long, default_value_t = 30)]
    children: usize,
    /// Sensor noise of the generated camera photo: the default gives a photo at the
    /// pipeline's budget (just under 350 KB, thumbnail near 20 KB).
    #[arg(long, default_value_t = 90)]
    photo_noise: u32,
    /// A photo at every this many visits in the year of the first-sync village.
    #[arg(long, default_value_t = 3)]
    photo_every: usize,
    /// Where to write the JSON report.
    #[arg(long, default_value = "village-link-report.json")]
    report: PathBuf,
}

/// A unique copy of `base` (content addressing would merge identical photos).
fn unique(base: &ProcessedPhoto, tag: &str) -> ProcessedPhoto {
    let mut p = base.clone();
    p.full.extend_from_slice(tag.as_bytes());
    p.full_sha256 = field_store::photo::sha256_hex(&p.full);
    p.thumb.extend_from_slice(tag.as_bytes());
    p.thumb_sha256 = field_store::photo::sha256_hex(&p.thumb);
    p
}

/// gzip at the sync client's level (fast) for records; photos at the default level.
fn gz_len(bytes: &[u8]) -> u64 {
    gz_len_at(bytes, flate2::Compression::fast())
}

fn gz_len_at(bytes: &[u8], level: flate2::Compression) -> u64 {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
    e.write_all(bytes).unwrap();
    e.finish().unwrap().len() as u64
}

/// Registers `n` children in `village`, on the roster since a year ago.
fn children(d: &mut Device, village: &str, n: usize) -> Result<Vec<Uuid>> {
    let since = (d.store.today() - chrono::Duration::days(365)).to_string();
    (0..n)
        .map(|c| {
            let risk = ["red", "yellow", "blue", "green"][c % 4];
            Ok(d.store.add_child(obj(json!({
                "name": format!("儿童{c}"), "sex": if c % 2 == 0 {"male"} else {"female"},
                "birth_date": "2014-04-01", "village_code": village,
                "categories": ["left_behind"], "risk_colour": risk,
                "household_registered": true, "status": "active", "added_on": since,
                "current_address": format!("{village}村{c}号"),
                "notes": "奶奶照顾，父母在外务工。",
            })))?)
        })
        .collect()
}

fn visit(d: &mut Device, child: Uuid, at: &str, photos: &[ProcessedPhoto]) -> Result<()> {
    d.store.record_visit_processed(
        child,
        obj(json!({
            "visited_at": at, "mode": "home", "visitor": d.account, "checklist": checklist(),
            "risk_colour": "green", "emergency": false, "actions": [],
            "narrative": "孩子在家，奶奶照顾，学习正常。",
        })),
        photos,
    )?;
    Ok(())
}

/// One sync through `link`, retried under the device's own policy; wall time and
/// the link's bytes (up, down) for it.
fn timed_sync(
    d: &mut Device,
    link: &ShapedLink,
    opts: &SyncOptions,
) -> Result<(f64, SyncReport, u64, u64, u32)> {
    d.use_server(&link.url());
    let (up0, down0) = link.stats.bytes();
    let mut retries = 0u32;
    let started = Instant::now();
    let rep = field_store::sync::sync_with_retry(
        &mut d.store,
        opts,
        &RetryPolicy::default(),
        &mut |_| {},
        |attempt, e, wait| {
            retries += 1;
            eprintln!(
                "village-link: try {attempt} failed after {:.1} s ({e}); next in {:.1} s",
                started.elapsed().as_secs_f64(),
                wait.as_secs_f64()
            );
        },
    )
    .context("sync through the link")?;
    let secs = started.elapsed().as_secs_f64();
    let (up1, down1) = link.stats.bytes();
    let st = d.store.status()?;
    if st.outbox_changes > 0 || st.pending_blobs > 0 || st.rejected_changes > 0 {
        bail!("not fully synced: {st:?}");
    }
    Ok((secs, rep, up1 - up0, down1 - down0, retries))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let shape = LinkShape {
        kbit_per_s: args.kbit,
        rtt_ms: args.rtt_ms,
        loss: args.loss,
        cut_every: None,
        seed: 7,
    };
    eprintln!(
        "village-link: {} kbit/s, {} ms round trips, {:.1} % loss",
        args.kbit,
        args.rtt_ms,
        args.loss * 100.0
    );
    let server = TestServer::start(&Backend::Sqlite);
    let upstream = server.addr;
    let base = process_photo(
        &camera_photo(2400, 1800, 11, args.photo_noise),
        &PhotoLimits::default(),
    )?;
    eprintln!(
        "village-link: photo {} B, thumbnail {} B (budget {} / {})",
        base.full.len(),
        base.thumb.len(),
        field_store::photo::MAX_PHOTO_BYTES,
        field_store::photo::MAX_THUMB_BYTES
    );
    let now_at = |d: &Device| d.store.now_china_rfc3339();

    // --- 1. a director's day ----------------------------------------------------------
    let mut day = server.device("d2");
    let kids = children(&mut day, "v2", args.children)?;
    day.sync_until_ok(&SyncOptions::default(), 3);
    for v in 0..args.visits {
        let at = now_at(&day);
        visit(
            &mut day,
            kids[v],
            &at,
            &[unique(&base, &format!("day-{v}"))],
        )?;
    }
    let link = ShapedLink::start(upstream, shape.clone());
    let (day_secs, day_rep, day_up, day_down, day_retries) =
        timed_sync(&mut day, &link, &SyncOptions::default())?;
    eprintln!("village-link: the day took {day_secs:.1} s");
    // The same number of visits without photos, through the same link: per visit.
    for v in 0..args.visits {
        let at = now_at(&day);
        visit(&mut day, kids[v], &at, &[])?;
    }
    let (plain_secs, _, plain_up, plain_down, _) =
        timed_sync(&mut day, &link, &SyncOptions::default())?;
    // A round with nothing to send: what every round costs (heartbeat, pull, verify).
    let (_, _, empty_up, empty_down, _) = timed_sync(&mut day, &link, &SyncOptions::default())?;
    let per_visit =
        ((plain_up + plain_down) as f64 - (empty_up + empty_down) as f64) / args.visits as f64;
    let per_photo =
        ((day_up + day_down) as f64 - (plain_up + plain_down) as f64) / args.visits as f64;
    let naive_visit = gz_len(&serde_json::to_vec(&day.store.child_file(kids[0])?)?);
    let naive_photo = gz_len_at(
        &serde_json::to_vec(&json!({
            "photo": base64::engine::general_purpose::STANDARD.encode(&base.full),
            "thumbnail": base64::engine::general_purpose::STANDARD.encode(&base.thumb),
        }))?,
        flate2::Compression::default(),
    );
    let photo_bytes = (base.full.len() + base.thumb.len()) as f64;
    drop(link);

    // --- 2. a new village phone's first sync ------------------------------------------
    let mut old = server.device("d1");
    let kids = children(&mut old, "v1", args.children)?;
    let today = old.store.today();
    let mut visits = 0usize;
    let mut photos = 0usize;
    for (c, kid) in kids.iter().enumerate() {
        let every = if c % 3 == 0 { 30 } else { 91 };
        let mut ago = 365 - every;
        loop {
            let at = format!("{}T10:00:00+08:00", today - chrono::Duration::days(ago));
            let p = if visits % args.photo_every.max(1) == 0 {
                photos += 1;
                vec![unique(&base, &format!("year-{visits}"))]
            } else {
                vec![]
            };
            visit(&mut old, *kid, &at, &p)?;
            visits += 1;
            if ago < every {
                break;
            }
            ago -= every;
        }
    }
    old.sync_until_ok(&SyncOptions::default(), 3);
    let link = ShapedLink::start(upstream, shape.clone());
    let mut fresh = server.device("d1");
    let (first_secs, first_rep, first_up, first_down, first_retries) =
        timed_sync(&mut fresh, &link, &SyncOptions::default())?;
    let on_phone = fresh.store.roster(&Default::default())?.len();
    if on_phone != args.children || first_rep.thumbnails_fetched != photos as u64 {
        bail!(
            "first sync incomplete: {on_phone} children, {} of {photos} thumbnails",
            first_rep.thumbnails_fetched
        );
    }
    eprintln!("village-link: the first sync took {first_secs:.1} s");
    drop(link);

    // --- 3. the same day, cut every 20 s ------------------------------------------------
    let mut cut = server.device("d3");
    let kids = children(&mut cut, "v3", args.children)?;
    cut.sync_until_ok(&SyncOptions::default(), 3);
    let mut blob_total = 0u64;
    for v in 0..args.visits {
        let at = now_at(&cut);
        let p = unique(&base, &format!("cut-{v}"));
        blob_total += (p.full.len() + p.thumb.len()) as u64;
        visit(&mut cut, kids[v], &at, &[p])?;
    }
    let link = ShapedLink::start(
        upstream,
        LinkShape {
            cut_every: Some(Duration::from_secs(args.cut_every)),
            ..shape.clone()
        },
    );
    let meter = Arc::new(AtomicU64::new(0));
    let opts = SyncOptions {
        blob_meter: Some(meter.clone()),
        ..Default::default()
    };
    let (cut_secs, cut_rep, _, _, cut_retries) = timed_sync(&mut cut, &link, &opts)?;
    let sent = meter.load(Ordering::Relaxed);
    let resent = sent.saturating_sub(blob_total);
    let cuts = link.stats.cut_events.load(Ordering::Relaxed);
    let chunk = opts.chunk_bytes as u64;
    let resent_chunks = resent.div_ceil(chunk);
    eprintln!(
        "village-link: cut every {} s: {cut_secs:.1} s, {cuts} cuts, {resent} photo bytes sent again",
        args.cut_every
    );
    drop(link);

    let ok = |b: bool| if b { "✅" } else { "❌" };
    let report = json!({
        "link": {"kbit_per_s": args.kbit, "rtt_ms": args.rtt_ms, "loss": args.loss},
        "photo_bytes": base.full.len(), "thumbnail_bytes": base.thumb.len(),
        "day": {"visits": args.visits, "photos": args.visits, "seconds": day_secs,
                "bytes_up": day_up, "bytes_down": day_down, "requests": day_rep.requests,
                "retries": day_retries, "goal_seconds": 60},
        "visits_only_round": {"seconds": plain_secs, "bytes_up": plain_up, "bytes_down": plain_down},
        "empty_round": {"bytes_up": empty_up, "bytes_down": empty_down},
        "first_sync": {"children": args.children, "visits": visits, "thumbnails": photos,
                       "changes_pulled": first_rep.pulled, "seconds": first_secs,
                       "bytes_up": first_up, "bytes_down": first_down,
                       "requests": first_rep.requests, "retries": first_retries, "goal_seconds": 30},
        "cut_day": {"cut_every_s": args.cut_every, "seconds": cut_secs, "cuts": cuts,
                    "failed_tries": cut_retries, "photo_bytes_sent": sent,
                    "photo_bytes_sent_again": resent, "chunk_bytes": chunk,
                    "chunks_sent_again_at_most": resent_chunks,
                    "at_most_one_chunk_per_cut": resent_chunks <= cuts,
                    "requests": cut_rep.requests},
        "wire_bytes_per_visit": per_visit,
        "naive_whole_file_json_gz_per_visit": naive_visit,
        "wire_bytes_per_photo": per_photo,
        "naive_photo_json_base64_gz": naive_photo,
        "photo_and_thumbnail_bytes": photo_bytes,
    });
    let text = serde_json::to_string_pretty(&report)?;
    std::fs::File::create(&args.report)?.write_all(text.as_bytes())?;
    println!("{text}");
    println!();
    println!("| run | figure | goal |");
    println!("|---|---|---|");
    println!(
        "| director's day ({} visits, {} photos of {} + {} B) | **{day_secs:.1} s**, {} requests, {:.0} KB up / {:.0} KB down | ≤ 60 s {} |",
        args.visits, args.visits, base.full.len(), base.thumb.len(), day_rep.requests,
        day_up as f64 / 1000.0, day_down as f64 / 1000.0, ok(day_secs <= 60.0)
    );
    println!(
        "| new phone's first sync ({} children, {visits} visits, {photos} thumbnails, {} changes) | **{first_secs:.1} s**, {} requests, {:.0} KB up / {:.0} KB down | ≤ 30 s {} |",
        args.children, first_rep.pulled, first_rep.requests,
        first_up as f64 / 1000.0, first_down as f64 / 1000.0, ok(first_secs <= 30.0)
    );
    println!(
        "| the day cut every {} s | **{cut_secs:.1} s**, {cuts} cuts, {cut_retries} failed tries, {resent} photo bytes sent again (≤ {resent_chunks} chunks of {chunk} B) | completes ✅, ≤ 1 chunk per cut {} |",
        args.cut_every, ok(resent_chunks <= cuts)
    );
    println!(
        "| bytes on the wire per visit (both ways, headers included; a round's own cost of {} B taken off) | **{per_visit:.0} B** | naive: the child's whole file as JSON (gzip), {naive_visit} B: ours {:.2}× |",
        empty_up + empty_down,
        per_visit / naive_visit as f64
    );
    println!(
        "| bytes on the wire per photo (photo + thumbnail {photo_bytes:.0} B) | **{per_photo:.0} B** ({:.3}× the photo) | naive: both in JSON as base64 (gzip -6), {naive_photo} B: ours {:.2}× |",
        per_photo / photo_bytes,
        per_photo / naive_photo as f64
    );
    Ok(())
}
