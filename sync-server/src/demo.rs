//! The demo city: one county, three townships, ten villages, a director per village, a
//! supervisor per township, a county admin, a city admin, and 60 children with a
//! guardian and a visit each; some left-behind children with a signed care agreement
//! (one ending soon), and a few referrals and a mandatory report past their feedback
//! date. The records are written as real changes through the same ingest path as
//! a phone's push (by one server-side "demo seed" device per director), so the demo
//! exercises validation, merge and the feed. Names are invented.

use crate::enrollment::issue_code;
use crate::error::StoreError;
use crate::roster::Roster;
use crate::store::{Database, PushBatch};
use serde_json::json;
use sync_core::{Change, Hlc, Scope};
use uuid::Uuid;

/// The demo roster (CSV, see [`crate::roster`]).
pub fn demo_roster_csv() -> String {
    let mut csv =
        String::from("kind,code,name,parent\ncity,3706,演示市,\ncounty,370602,演示区,3706\n");
    let townships = [
        ("370602001", "向阳街道", 4),
        ("370602002", "东山街道", 3),
        ("370602003", "毓璜顶街道", 3),
    ];
    let mut n = 0;
    for (t, name, villages) in townships {
        csv.push_str(&format!("township,{t},{name},370602\n"));
        for v in 1..=villages {
            n += 1;
            csv.push_str(&format!("village,{t}{v:03},演示村{n},{t}\n"));
        }
    }
    let mut d = 0;
    for (ti, (t, _, villages)) in townships.iter().enumerate() {
        for v in 1..=*villages {
            csv.push_str(&format!(
                "director,dir-{t}{v:03},{},{t}{v:03}\n",
                DIRECTOR_NAMES[d % DIRECTOR_NAMES.len()]
            ));
            d += 1;
        }
        csv.push_str(&format!(
            "supervisor,sup-{t},{},{t}\n",
            SUPERVISOR_NAMES[ti]
        ));
    }
    csv.push_str("county_admin,admin-370602,周建国（区民政局）,370602\n");
    csv.push_str("city_admin,admin-3706,吴海燕（市民政局）,3706\n");
    csv
}

/// The demo directors' names, in roster order (invented).
const DIRECTOR_NAMES: &[&str] = &[
    "王秀英",
    "李桂兰",
    "张玉梅",
    "刘建华",
    "陈淑珍",
    "杨春燕",
    "赵红霞",
    "黄丽娟",
    "周志强",
    "吴秀芳",
];
/// The demo supervisors' names, one per township (invented).
const SUPERVISOR_NAMES: &[&str] = &["孙立新", "马晓东", "朱丽华"];

/// Codes printed for the newcomer.
#[derive(Debug)]
pub struct DemoSeed {
    pub director_login: String,
    pub director_code: String,
    pub supervisor_login: String,
    pub supervisor_code: String,
    /// One-time console login codes: (login, code) of the supervisor and the admins.
    pub console_codes: Vec<(String, String)>,
    pub children: usize,
}

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: &[&str] = &[
    "小明", "晓红", "子涵", "浩然", "欣怡", "宇轩", "梓萱", "俊杰",
];

fn now_ms() -> u64 {
    crate::model::clock::now_ms()
}

/// An invented 身份证号 with a valid check digit (region 370602, born 2014).
fn demo_id_number(k: usize) -> String {
    let first17 = format!(
        "3706022014{:02}{:02}{:03}",
        1 + k % 12,
        1 + k % 28,
        k % 1000
    );
    let check = domain::id_number::check_digit(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// The `k`-th demo child's name (invented).
fn demo_child_name(k: usize) -> String {
    format!(
        "{}{}",
        SURNAMES[k % SURNAMES.len()],
        GIVEN[(k / 3) % GIVEN.len()]
    )
}

/// The `k`-th demo child's grandmother (her name on the child's file).
fn demo_grandmother_name(k: usize) -> String {
    format!("{}奶奶", SURNAMES[k % SURNAMES.len()])
}

/// An invented grandmother's 身份证号 (born 1958), for the `k`-th demo child.
fn demo_guardian_id_number(k: usize) -> String {
    with_check_digit(&format!(
        "3706021958{:02}{:02}{:03}",
        1 + k % 12,
        1 + k % 28,
        500 + 2 * (k % 200)
    ))
}

/// The 18-digit 身份证号 of its first 17 digits (with a valid check digit).
fn with_check_digit(first17: &str) -> String {
    let check = domain::id_number::check_digit(first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// The date `n` days before today in China, as `YYYY-MM-DD`.
fn days_ago(n: i64) -> String {
    (crate::model::clock::today() - chrono::Duration::days(n)).to_string()
}

/// Seeds the demo city. Not idempotent for records: call on an empty store.
pub async fn seed_demo(db: &dyn Database) -> Result<DemoSeed, StoreError> {
    let roster =
        Roster::parse(&demo_roster_csv()).map_err(|e| StoreError::Invalid(e.to_string()))?;
    db.import_roster(&roster).await?;
    let villages = db.villages().await?;
    let mut children = 0;
    let mut k = 0usize;
    for (vi, village) in villages.iter().enumerate() {
        let login = format!("dir-{village}");
        let director_name = roster
            .accounts
            .iter()
            .find(|a| a.login == login)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let device = crate::enrollment::server_side_device(
            db,
            &login,
            "演示手机 demo phone",
            now_ms() as i64,
        )
        .await?;
        let mut village_children = Vec::new();
        let device_id = device.device_id;
        let mut changes = Vec::new();
        let mut seq = 0u64;
        let base = now_ms();
        let mut stamp = 0u16;
        let mut last_row = Uuid::nil();
        // One stamp per row: all fields of a row are one device write (an append-only
        // row accepts only the fields of its creating write).
        let mut push = |table: &str, row: Uuid, field: &str, value: serde_json::Value| {
            seq += 1;
            if row != last_row {
                last_row = row;
                stamp += 1;
            }
            changes.push(Change {
                op_id: Uuid::now_v7(),
                device_id,
                device_seq: seq,
                table: table.into(),
                row_id: row,
                field: field.into(),
                value,
                hlc: Hlc::new(base, stamp),
                scope: Scope::new(village.clone()),
            });
        };
        for i in 0..6 {
            k += 1;
            let child = Uuid::now_v7();
            let name = demo_child_name(k);
            let risk = ["green", "blue", "yellow", "red"][k % 4];
            let cats = if i % 3 == 0 {
                json!(["left_behind"])
            } else if i % 3 == 1 {
                json!(["difficulty"])
            } else {
                json!(["de_facto_unsupported"])
            };
            for (f, v) in [
                ("name", json!(name)),
                (
                    "sex",
                    json!(if k.is_multiple_of(2) {
                        "male"
                    } else {
                        "female"
                    }),
                ),
                (
                    "birth_date",
                    json!(format!("{}-0{}-1{}", 2012 + (k % 8), 1 + k % 9, k % 10)),
                ),
                ("household_registered", json!(!k.is_multiple_of(11))),
                ("id_number", json!(demo_id_number(k))),
                ("village_code", json!(village)),
                ("categories", cats),
                ("risk_colour", json!(risk)),
                ("status", json!("active")),
                ("added_on", json!(days_ago(120 + (k % 5) as i64 * 30))),
            ] {
                push("child", child, f, v);
            }
            let guardian = Uuid::now_v7();
            for (f, v) in [
                ("child_id", json!(child.to_string())),
                ("role", json!("grandparent")),
                ("name", json!(demo_grandmother_name(k))),
            ] {
                push("guardian", guardian, f, v);
            }
            if k % 5 == 0 {
                // Some grandmothers' ID numbers are on file: an allowance list that
                // names one points at her grandchild (active discovery's guardian match).
                push(
                    "guardian",
                    guardian,
                    "id_number",
                    json!(demo_guardian_id_number(k)),
                );
            }
            let visit = Uuid::now_v7();
            for (f, v) in [
                ("child_id", json!(child.to_string())),
                // Spread over the last ~100 days, so the roster shows overdue, due-soon
                // and recently visited children.
                (
                    "visited_at",
                    json!(format!("{}T10:00:00+08:00", days_ago((k * 7 % 100) as i64))),
                ),
                ("mode", json!("home")),
                ("visitor", json!(director_name)),
                (
                    "checklist",
                    json!({
                        "living": {"status": "normal"},
                        "guardianship": {"status": "watch", "note": "奶奶年纪大，需多关注"},
                        "education": {"status": "normal"},
                        "health": {"status": "normal"},
                        "safety": {"status": "normal"},
                        "mood": {"status": "normal"}
                    }),
                ),
                ("risk_colour", json!(risk)),
                ("emergency", json!(false)),
                ("actions", json!([])),
            ] {
                push("visit", visit, f, v);
            }
            if i % 3 == 0 && k % 2 == 0 {
                // A signed care agreement for half of the left-behind children; every
                // fourth of those ends within a month.
                let text = format!(
                    "委托照护协议（演示）\n甲方（委托人）：{name}之父，身份证号 37060219800101{:04}，外出务工。\n乙方（受托人）：{name}之祖母。\n见证人：村儿童主任。\n甲方每周至少与儿童联系一次。",
                    k % 10_000
                );
                let agreement = Uuid::now_v7();
                let until = if k % 8 == 0 { -20 } else { -300 };
                for (f, v) in [
                    ("child_id", json!(child.to_string())),
                    ("draft_id", json!(Uuid::now_v7().to_string())),
                    ("version", json!(1)),
                    ("text_sha256", json!(domain::text_sha256(&text))),
                    ("canonical_text", json!(text)),
                    ("valid_from", json!(days_ago(60))),
                    ("valid_until", json!(days_ago(until))),
                    (
                        "signed_at",
                        json!(format!("{}T15:00:00+08:00", days_ago(60))),
                    ),
                ] {
                    push("agreement_version", agreement, f, v);
                }
            }
            if k % 9 == 0 {
                let referral = Uuid::now_v7();
                let kind = if k % 18 == 0 {
                    "harm_or_abuse"
                } else {
                    "out_of_school"
                };
                for (f, v) in [
                    ("child_id", json!(child.to_string())),
                    ("kind", json!(kind)),
                    (
                        "receiving_body",
                        json!(if kind == "harm_or_abuse" {
                            "派出所"
                        } else {
                            "中心小学"
                        }),
                    ),
                    ("referred_on", json!(days_ago(40))),
                    ("feedback_due_on", json!(days_ago(10))),
                ] {
                    push("referral", referral, f, v);
                }
            }
            village_children.push(child);
            children += 1;
        }
        // What the demo phones report: some records waiting, and in the second village
        // visits recorded on the phone that have not reached the server yet.
        let heartbeat = sync_core::wire::Heartbeat {
            pending_changes: (vi as u64 * 7) % 12,
            oldest_pending_secs: (vi as u64 % 4) * 5400,
            pending_blobs: vi as u64 % 3,
            app_version: "0.1.0".into(),
            device_clock_ms: now_ms() + (vi as u64 % 3) * 45_000,
            free_storage_bytes: 2_000_000_000 + vi as u64 * 700_000_000,
            unsent_visit_children: if vi == 1 {
                village_children.clone()
            } else {
                Vec::new()
            },
        };
        let out = db
            .push(
                &device,
                PushBatch {
                    changes,
                    heartbeat,
                    now_ms: now_ms(),
                    max_ahead_ms: sync_core::hlc::DEFAULT_MAX_AHEAD_MS,
                },
            )
            .await?;
        if !out.rejected.is_empty() {
            return Err(StoreError::Invalid(format!(
                "demo data rejected: {:?}",
                out.rejected.first()
            )));
        }
    }
    let director_login = format!("dir-{}", villages.first().cloned().unwrap_or_default());
    let supervisor_login = "sup-370602001".to_string();
    let mut console_codes = Vec::new();
    for login in [supervisor_login.as_str(), "admin-370602", "admin-3706"] {
        if let Some(code) =
            crate::console::people::issue_login_code(db, login, now_ms() as i64).await?
        {
            console_codes.push((login.to_string(), code));
        }
    }
    Ok(DemoSeed {
        console_codes,
        director_code: issue_code(db, &director_login, 72, now_ms() as i64)
            .await?
            .code,
        supervisor_code: issue_code(db, &supervisor_login, 72, now_ms() as i64)
            .await?
            .code,
        director_login,
        supervisor_login,
        children,
    })
}

/// A demo allowance list as a county office would send it (CSV with a title row above
/// the header and a blank line at the end), for trying active discovery on the demo
/// city: `dibao_rural` (minors not on the roster, a grandmother of a child on file, a
/// child already on the roster, a wrong ID number, a village that does not exist) or
/// `disability_care` (a grandmother with a grade 1 disability, a disabled minor not on
/// the roster). None for another kind. Names and numbers are invented.
pub fn demo_allowance_list(kind: &str, month: &str) -> Option<String> {
    let person = |birth: &str, serial: u32| with_check_digit(&format!("370602{birth}{serial:03}"));
    let born = |id: &str| format!("{}-{}-{}", &id[6..10], &id[10..12], &id[12..14]);
    let sex = |id: &str| {
        if (id.as_bytes()[16] - b'0') % 2 == 1 {
            "男"
        } else {
            "女"
        }
    };
    let month = domain::discovery::month_zh(month);
    let mut rows: Vec<[String; 9]> = Vec::new();
    let mut add = |name: &str, id: String, village: &str, head: &str, rel: &str, grade: &str| {
        let n = rows.len() + 1;
        rows.push([
            n.to_string(),
            name.to_string(),
            id.clone(),
            sex(&id).to_string(),
            born(&id),
            village.to_string(),
            head.to_string(),
            rel.to_string(),
            grade.to_string(),
        ]);
    };
    let (title, grade_header) = match kind {
        "dibao_rural" => {
            let head = person("19850312", 135);
            add("郑国强", head.clone(), "演示村1", &head, "户主", "");
            add(
                "郑小雨",
                person("20160708", 142),
                "演示村1",
                &head,
                "女",
                "",
            );
            add(
                "郑小川",
                person("20190221", 151),
                "演示村1",
                &head,
                "子",
                "",
            );
            add("钱思琪", person("20141103", 264), "演示村5", "", "", "");
            // A grandmother on file for a child of 演示村1 (the fifth demo child).
            add(
                &demo_grandmother_name(5),
                demo_guardian_id_number(5),
                "演示村1",
                "",
                "",
                "",
            );
            // A child already on the roster (the seventh demo child, 演示村2).
            add(
                &demo_child_name(7),
                demo_id_number(7),
                "演示村2",
                "",
                "",
                "",
            );
            // A wrong check digit, and a village that is not in the city.
            let mut wrong = person("20170505", 372);
            let last = if wrong.ends_with('1') { '2' } else { '1' };
            wrong.pop();
            wrong.push(last);
            add("孙小军", wrong, "演示村3", "", "", "");
            add("冯小玲", person("20150909", 388), "幸福村", "", "", "");
            (format!("演示区{month}农村最低生活保障对象名单"), "备注")
        }
        "disability_care" => {
            add(
                &demo_grandmother_name(10),
                demo_guardian_id_number(10),
                "演示村2",
                "",
                "",
                "一级",
            );
            add("黄小宇", person("20130416", 417), "演示村6", "", "", "二级");
            (format!("演示区{month}重度残疾人护理补贴名单"), "残疾等级")
        }
        _ => return None,
    };
    let mut csv = format!("{title},,,,,,,,\r\n");
    csv.push_str(&format!(
        "序号,姓名,身份证号,性别,出生日期,所在村,户主身份证号,与户主关系,{grade_header}\r\n"
    ));
    for r in rows {
        csv.push_str(&r.join(","));
        csv.push_str("\r\n");
    }
    csv.push_str(",,,,,,,,\r\n");
    Some(csv)
}
