//! 主动发现 (active discovery), the words phone and server share: what a month's
//! allowance list (低保, 特困供养, 残疾人两补 …) matched against the roster means for one
//! child, kept in the `details` of the task the server writes to the village
//! ([`Finding`]); the list's month ([`parse_list_month`]) and who counts as a minor on
//! it ([`minor_in_month`]).
//!
//! Why `details` and not new task fields: a phone on the release before discovery
//! reads a task with `Task::from_fields`, which refuses a field it does not know, and
//! would then hide the task from its home screen. Everything the server writes when it
//! creates a task is therefore in the fields that release knows (`kind` within its
//! codes, `title` as a plain sentence it can show, the finding inside `details`); the
//! closing fields are new, and only a phone that knows them writes them.

use crate::codes::{FindingKind, Sex, TaskKind};
use crate::error::DomainError;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The `source` every finding carries: how a reader tells a finding from other task
/// details.
pub const FINDING_SOURCE: &str = "active_discovery";

/// Most characters of a list kind's "what a match means" kept in a finding.
pub const MEANING_MAX_CHARS: usize = 300;

/// What the server found for one child on one month's list: the `details` of the task
/// it writes to the village. Holds only what the director needs at the doorstep (the
/// register form is pre-filled from [`ListedPerson`]); an adult's ID number is never
/// kept whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Finding {
    /// Always [`FINDING_SOURCE`].
    pub source: String,
    /// What was found.
    pub finding: FindingKind,
    /// The list kind's code (a county's own list kinds are data, so this is text).
    pub list_kind: String,
    /// The list kind's name when the list was imported (e.g. 农村低保).
    pub list_name: String,
    /// The month of the list, `YYYY-MM`.
    pub list_month: String,
    /// What a match on this list means, in the county's words (from the list kind).
    #[serde(default)]
    pub meaning: String,
    /// The listed minor: who to register (unlisted minors), or the roster child as
    /// listed (joined / left the list).
    #[serde(default)]
    pub person: Option<ListedPerson>,
    /// The listed adult whose listing points at the child (a guardian, a member of
    /// the household).
    #[serde(default)]
    pub adult: Option<ListedAdult>,
    /// For a guardian on the list: the guardian row on the child's file.
    #[serde(default)]
    pub guardian_id: Option<Uuid>,
}

/// A minor as the list gives them: what the register form is pre-filled with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ListedPerson {
    /// 姓名.
    pub name: String,
    /// 身份证号, normalised and check-digit verified.
    pub id_number: String,
    /// Read from the ID number.
    pub sex: Option<Sex>,
    /// Read from the ID number.
    pub birth_date: Option<NaiveDate>,
    /// 户籍地址 / 所在村 as the list writes it.
    #[serde(default)]
    pub address: Option<String>,
    /// 与户主关系 as the list writes it.
    #[serde(default)]
    pub relationship_to_head: Option<String>,
    /// 残疾等级 1–4, when the list gives one.
    #[serde(default)]
    pub disability_grade: Option<u8>,
    /// 类别 as the list writes it (e.g. 农村低保 A 类).
    #[serde(default)]
    pub list_category: Option<String>,
}

/// An adult on the list, as much as the task needs to name them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ListedAdult {
    /// 姓名.
    pub name: String,
    /// The ID number masked (`3706**********1234`).
    pub id_number_masked: String,
    /// Who they are to the child: the guardian's role on the file (母亲), else 与户主关系.
    #[serde(default)]
    pub relationship: Option<String>,
    /// 残疾等级 1–4, when the list gives one.
    #[serde(default)]
    pub disability_grade: Option<u8>,
    /// 类别 as the list writes it.
    #[serde(default)]
    pub list_category: Option<String>,
}

impl Finding {
    /// A finding of `kind` on `list_month`'s list `list_kind` (named `list_name`,
    /// meaning `meaning`, cut to [`MEANING_MAX_CHARS`]).
    pub fn new(
        kind: FindingKind,
        list_kind: &str,
        list_name: &str,
        list_month: &str,
        meaning: &str,
    ) -> Finding {
        Finding {
            source: FINDING_SOURCE.to_string(),
            finding: kind,
            list_kind: list_kind.to_string(),
            list_name: list_name.to_string(),
            list_month: list_month.to_string(),
            meaning: meaning.chars().take(MEANING_MAX_CHARS).collect(),
            person: None,
            adult: None,
            guardian_id: None,
        }
    }

    /// The task's `details` value.
    pub fn to_details(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The finding in a task's `details`, if they hold one.
    pub fn from_details(details: &Value) -> Option<Finding> {
        if details.get("source").and_then(Value::as_str) != Some(FINDING_SOURCE) {
            return None;
        }
        serde_json::from_value(details.clone()).ok()
    }

    /// The task kind for this finding, within the codes every released phone knows: a
    /// minor not on the roster is `check_listed_minor`, a finding on a child on file
    /// is `other`.
    pub fn task_kind(&self) -> TaskKind {
        match self.finding {
            FindingKind::UnlistedMinor => TaskKind::CheckListedMinor,
            _ => TaskKind::Other,
        }
    }

    /// The task's `title`: one plain sentence (at most 200 characters) that a phone
    /// which cannot read the finding shows as it is — so it also says to update the
    /// app to act on it. `child_name` is the roster child's name for findings on a
    /// child on file.
    pub fn title_zh(&self, child_name: Option<&str>) -> String {
        let list = format!("{}（{}）", self.list_name, month_zh(&self.list_month));
        let person = self.person.as_ref().map(|p| p.name.as_str()).unwrap_or("");
        let child = child_name.unwrap_or(person);
        let adult = self.adult.as_ref();
        let who = adult
            .map(|a| format!("{}{}", a.relationship.as_deref().unwrap_or(""), a.name))
            .unwrap_or_default();
        let grade = adult
            .and_then(|a| a.disability_grade)
            .map(|g| format!("（残疾{}级）", g))
            .unwrap_or_default();
        let text = match self.finding {
            FindingKind::UnlistedMinor => {
                format!("核查：{list}名单上的未成年人{person}不在儿童台账上")
            }
            FindingKind::GuardianListed => {
                format!("核查：{child}的{who}在{list}名单上{grade}")
            }
            FindingKind::HouseholdListed => {
                format!("核查：{child}的同户成员{who}在{list}名单上{grade}")
            }
            FindingKind::JoinedList => format!("复核：{child}家庭新进入{list}名单"),
            FindingKind::LeftList => format!("复核：{child}家庭已不在{list}名单上"),
        };
        let text = format!("{text}。请升级应用后办理");
        text.chars().take(200).collect()
    }
}

/// A list's month as people write it (`2026-05`, `2026-5`, `202605`, `2026年5月`,
/// full-width digits) in its stored form `YYYY-MM`, or a refusal saying so.
pub fn parse_list_month(typed: &str) -> Result<String, DomainError> {
    let ascii = crate::normalize::ascii_form(typed.trim()).into_owned();
    let digits: Vec<&str> = ascii
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect();
    let (y, m) = match digits.as_slice() {
        [ym] if ym.len() == 6 => (&ym[..4], &ym[4..]),
        [y, m] if y.len() == 4 && (1..=2).contains(&m.len()) => (*y, *m),
        _ => ("", ""),
    };
    match (y.parse::<i32>(), m.parse::<u32>()) {
        (Ok(y), Ok(m)) if (2000..=2100).contains(&y) && (1..=12).contains(&m) => {
            Ok(format!("{y:04}-{m:02}"))
        }
        _ => Err(DomainError::new(
            "bad_list_month",
            format!(
                "名单月份“{}”无法识别，请写成 2026-05 这样的年-月",
                typed.chars().take(20).collect::<String>()
            ),
            "the list's month is not a month: write it as 2026-05",
        )
        .on_field("list_month")),
    }
}

/// The first day of a `YYYY-MM` month (as [`parse_list_month`] stores it).
pub fn month_start(list_month: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{list_month}-01"), "%Y-%m-%d").ok()
}

/// The month before a `YYYY-MM` month, in the same form.
pub fn previous_month(list_month: &str) -> Option<String> {
    let d = month_start(list_month)?;
    let p = d.pred_opt()?;
    Some(format!("{:04}-{:02}", p.year(), p.month()))
}

/// Whether someone born on `birth_date` is a minor on the list of `list_month`: under
/// 18 on the month's first day (someone turning 18 during the month is an adult on
/// it: the month's allowance is paid to them as an adult). Born after the month's
/// first day counts as a minor.
pub fn minor_in_month(birth_date: NaiveDate, list_month: &str) -> bool {
    let Some(first) = month_start(list_month) else {
        return false;
    };
    match birth_date.with_year(birth_date.year() + 18) {
        Some(eighteen) => eighteen > first,
        // Born on 29 February: 18 on 1 March.
        None => NaiveDate::from_ymd_opt(birth_date.year() + 18, 3, 1).is_some_and(|e| e > first),
    }
}

/// A list month as people write it: "2026-05" → "2026年5月" (as given when unreadable).
pub fn month_zh(list_month: &str) -> String {
    match month_start(list_month) {
        Some(d) => format!("{}年{}月", d.year(), d.month()),
        None => list_month.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn unlisted_minor() -> Finding {
        let mut f = Finding::new(
            FindingKind::UnlistedMinor,
            "dibao_rural",
            "农村低保",
            "2026-05",
            "低保家庭中的未成年人：请入户核查是否符合困境儿童等保障条件",
        );
        f.person = Some(ListedPerson {
            name: "李小红".into(),
            id_number: "370602201403021229".into(),
            sex: Some(Sex::Female),
            birth_date: NaiveDate::from_ymd_opt(2014, 3, 2),
            address: Some("芝罘区世回尧街道东村".into()),
            relationship_to_head: Some("孙女".into()),
            disability_grade: None,
            list_category: Some("A类".into()),
        });
        f.adult = Some(ListedAdult {
            name: "李大山".into(),
            id_number_masked: "3706**********1234".into(),
            relationship: Some("户主".into()),
            disability_grade: Some(1),
            list_category: None,
        });
        f
    }

    #[test]
    fn a_finding_round_trips_through_task_details_and_fits_them() {
        let f = unlisted_minor();
        let details = f.to_details();
        assert_eq!(Finding::from_details(&details), Some(f.clone()));
        let mut long = f.clone();
        long.meaning = "很长".repeat(1000);
        let long = Finding::new(
            long.finding,
            &long.list_kind,
            &long.list_name,
            &long.list_month,
            &long.meaning,
        );
        assert_eq!(long.meaning.chars().count(), MEANING_MAX_CHARS);
        // The worst case still fits the schema's `details` (4 KB).
        let mut worst = long;
        worst.person = f.person.clone().map(|mut p| {
            p.name = "名".repeat(40);
            p.address = Some("址".repeat(200));
            p
        });
        worst.adult = f.adult.clone();
        worst.guardian_id = Some(Uuid::now_v7());
        let spec = crate::schema::TASK.field("details").unwrap();
        assert_eq!(spec.check_value(&worst.to_details()), Ok(()));
        // Other details are not findings.
        assert_eq!(Finding::from_details(&json!({"list": "dibao"})), None);
        assert_eq!(
            Finding::from_details(&json!({"source": "active_discovery"})),
            None
        );
    }

    #[test]
    fn a_finding_task_keeps_to_the_kinds_and_fields_every_released_phone_reads() {
        let f = unlisted_minor();
        assert_eq!(f.task_kind(), TaskKind::CheckListedMinor);
        let mut on_child = f.clone();
        on_child.finding = FindingKind::GuardianListed;
        assert_eq!(on_child.task_kind(), TaskKind::Other);
        let title = f.title_zh(None);
        assert!(title.contains("农村低保（2026年5月）"), "{title}");
        assert!(
            title.contains("李小红") && title.contains("升级应用"),
            "{title}"
        );
        assert!(!title.contains("3706"), "no ID number in a title: {title}");
        let t = on_child.title_zh(Some("王小明"));
        assert!(
            t.contains("王小明的户主李大山") && t.contains("残疾1级"),
            "{t}"
        );
        for kind in FindingKind::ALL {
            let mut g = f.clone();
            g.finding = *kind;
            let t = g.title_zh(Some(&"名".repeat(40)));
            assert!(t.chars().count() <= 200, "{kind}");
            assert!(crate::schema::TASK
                .field("title")
                .unwrap()
                .check_value(&json!(t))
                .is_ok());
        }
    }

    #[test]
    fn a_list_month_is_read_as_people_write_it() {
        for typed in [
            "2026-05",
            "2026-5",
            "202605",
            "2026年5月",
            "２０２６年５月",
            " 2026/05 ",
        ] {
            assert_eq!(parse_list_month(typed).as_deref(), Ok("2026-05"), "{typed}");
        }
        for bad in ["", "5月", "2026-13", "26-05", "2026-05-01x3", "1999-01"] {
            let e = parse_list_month(bad).unwrap_err();
            assert_eq!(e.code, "bad_list_month", "{bad}");
        }
        assert_eq!(previous_month("2026-01").as_deref(), Some("2025-12"));
        assert_eq!(previous_month("2026-05").as_deref(), Some("2026-04"));
    }

    #[test]
    fn a_minor_is_under_18_on_the_first_day_of_the_list_s_month() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(minor_in_month(d("2008-05-02"), "2026-05"), "18 on 2 May");
        assert!(!minor_in_month(d("2008-05-01"), "2026-05"), "18 on 1 May");
        assert!(!minor_in_month(d("1980-01-01"), "2026-05"));
        assert!(
            minor_in_month(d("2026-05-20"), "2026-05"),
            "born in the month"
        );
        assert!(minor_in_month(d("2008-02-29"), "2026-02"), "18 on 1 March");
        assert!(!minor_in_month(d("2008-02-29"), "2026-03"));
        assert!(!minor_in_month(d("2010-01-01"), "bad"));
    }
}
