//! 走访记录: one visit to one child, written once and never edited (a mistake is voided
//! with a reason and recorded again). The checklist covers the same six areas on every
//! visit; the risk colour and the next due date steer the director's next steps, and an
//! emergency always goes with a mandatory report to the police.

use crate::codes::{ChecklistArea, ItemStatus, RiskColour, VisitAction, VisitMode};
use crate::error::DomainError;
use crate::labels::field_label_zh;
use crate::problems::Problems;
use crate::record::{self, not_before, not_in_future, required_text, timestamp_date, Fields, Void};
use crate::schema::VISIT;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// One visit (table `visit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Visit {
    /// The child visited.
    pub child_id: Uuid,
    /// When the visit took place, as the device wrote it (RFC 3339, local offset).
    pub visited_at: String,
    /// Home, phone, WeChat video or at school.
    pub mode: VisitMode,
    /// Who was present.
    pub people_present: Option<String>,
    /// The director who visited.
    pub visitor: String,
    /// Where the visit took place, if a fix was taken.
    pub gps: Option<GpsFix>,
    /// The six-area checklist.
    pub checklist: Checklist,
    /// The child's risk colour after this visit.
    pub risk_colour: RiskColour,
    /// Violence, abuse, trafficking, running away, danger to life.
    pub emergency: bool,
    /// Problems found, in a few sentences.
    pub problems: Option<String>,
    /// What was done: resolved on the spot, referral, mandatory report.
    pub actions: Vec<VisitAction>,
    /// The next visit's due date the director set; the due policy may bring it closer.
    pub next_due_on: Option<NaiveDate>,
    /// The visit in the director's words, kept short.
    pub narrative: Option<String>,
    /// Set when the visit is voided, with the reason.
    pub voided: Option<Void>,
}

/// A GPS fix taken during the visit (field `gps`): degrees and accuracy in metres.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GpsFix {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Accuracy radius in metres.
    pub accuracy_m: f64,
}

/// One checklist area's finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    /// 正常, 关注 or 异常.
    pub status: ItemStatus,
    /// A short note; required when the status is abnormal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The visit checklist (field `checklist`): exactly the six areas, each 正常 / 关注 /
/// 异常 with an optional note of at most [`CHECKLIST_NOTE_MAX_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Checklist {
    /// 生活: food, housing, allowance received.
    pub living: ChecklistItem,
    /// 监护: caregiver present, agreement valid, contact with parents.
    pub guardianship: ChecklistItem,
    /// 教育: enrolled, attending, dropout risk.
    pub education: ChecklistItem,
    /// 健康: illness, disability, medical insurance.
    pub health: ChecklistItem,
    /// 安全: home hazards, drowning, signs of violence.
    pub safety: ChecklistItem,
    /// 心理: mood and behaviour.
    pub mood: ChecklistItem,
}

/// The longest note one checklist item may carry.
pub const CHECKLIST_NOTE_MAX_CHARS: usize = 200;

/// A red child must be seen again within this many days of the visit.
pub const RED_NEXT_VISIT_MAX_DAYS: u64 = 31;

impl Checklist {
    /// A checklist with every area at `status` and no notes (a starting point for the
    /// visit form).
    pub fn all(status: ItemStatus) -> Checklist {
        let item = || ChecklistItem { status, note: None };
        Checklist {
            living: item(),
            guardianship: item(),
            education: item(),
            health: item(),
            safety: item(),
            mood: item(),
        }
    }

    /// The six items in form order, each with its area.
    pub fn items(&self) -> [(ChecklistArea, &ChecklistItem); 6] {
        [
            (ChecklistArea::Living, &self.living),
            (ChecklistArea::Guardianship, &self.guardianship),
            (ChecklistArea::Education, &self.education),
            (ChecklistArea::Health, &self.health),
            (ChecklistArea::Safety, &self.safety),
            (ChecklistArea::Mood, &self.mood),
        ]
    }

    /// Every problem of a checklist as a form holds it while it is filled in: each
    /// area not answered yet, each unknown area or status, and (for the areas
    /// answered) each abnormal area without a note and each note too long — all at
    /// once, each naming its area (`checklist.health`).
    pub fn draft_problems(v: &Value) -> Problems {
        let mut p = Problems::new();
        let Some(obj) = v.as_object() else {
            p.block(
                DomainError::new(
                    "bad_checklist",
                    "走访检查项格式不对",
                    "the checklist must be an object of six areas",
                )
                .on_field("checklist"),
            );
            return p;
        };
        for k in obj.keys().filter(|k| ChecklistArea::from_code(k).is_none()) {
            let k: String = k.chars().take(40).collect();
            p.block(
                DomainError::new(
                    "bad_checklist",
                    format!("走访检查项没有“{k}”这一项"),
                    format!("unknown checklist area {k:?}"),
                )
                .on_field("checklist"),
            );
        }
        for area in ChecklistArea::ALL {
            let field = format!("checklist.{area}");
            let item = obj.get(area.code());
            let status = item
                .and_then(|i| i.get("status"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let Some(status) = status else {
                p.block(
                    DomainError::new(
                        "checklist_area_missing",
                        format!("请选择“{}”一项的情况（正常、关注或异常）", area.label_zh()),
                        format!("checklist {area}: choose normal, watch or abnormal"),
                    )
                    .on_field(field),
                );
                continue;
            };
            let Some(status) = ItemStatus::from_code(status) else {
                p.block(
                    DomainError::new(
                        "bad_checklist",
                        format!("“{}”一项的状态应为正常、关注或异常", area.label_zh()),
                        format!("checklist area {area}: status must be normal, watch or abnormal"),
                    )
                    .on_field(field),
                );
                continue;
            };
            let note = item
                .and_then(|i| i.get("note"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let one = Checklist::all(ItemStatus::Normal);
            let mut one = one;
            let slot = match area {
                ChecklistArea::Living => &mut one.living,
                ChecklistArea::Guardianship => &mut one.guardianship,
                ChecklistArea::Education => &mut one.education,
                ChecklistArea::Health => &mut one.health,
                ChecklistArea::Safety => &mut one.safety,
                ChecklistArea::Mood => &mut one.mood,
            };
            slot.status = status;
            slot.note = Some(note.to_string()).filter(|n| !n.is_empty());
            p.extend(one.problems());
        }
        p
    }

    /// Reads a checklist from its JSON, saying exactly what is wrong with a bad one
    /// (a missing or unknown area, an unknown status).
    pub fn from_json(v: &Value) -> Result<Checklist, DomainError> {
        let bad = |code, zh: String, en: String| {
            Err(DomainError::new(code, zh, en).on_field("checklist"))
        };
        let Some(obj) = v.as_object() else {
            return bad(
                "bad_checklist",
                "走访检查项格式不对".into(),
                "the checklist must be an object of six areas".into(),
            );
        };
        let all_areas = || {
            ChecklistArea::ALL
                .iter()
                .map(|a| a.label_zh())
                .collect::<Vec<_>>()
                .join("、")
        };
        if let Some(k) = obj.keys().find(|k| ChecklistArea::from_code(k).is_none()) {
            let k: String = k.chars().take(40).collect();
            return bad(
                "bad_checklist",
                format!("走访检查项只有{}六项，没有“{k}”", all_areas()),
                format!("unknown checklist area {k:?}"),
            );
        }
        for area in ChecklistArea::ALL {
            let Some(item) = obj.get(area.code()) else {
                return bad(
                    "bad_checklist",
                    format!(
                        "走访检查项缺少“{}”一项（共{}六项）",
                        area.label_zh(),
                        all_areas()
                    ),
                    format!("the checklist has no {area} area"),
                );
            };
            let status = item.get("status").and_then(Value::as_str);
            if status.and_then(ItemStatus::from_code).is_none() {
                return bad(
                    "bad_checklist",
                    format!("“{}”一项的状态应为正常、关注或异常", area.label_zh()),
                    format!("checklist area {area}: status must be normal, watch or abnormal"),
                );
            }
        }
        serde_json::from_value(v.clone()).or_else(|e| {
            bad(
                "bad_checklist",
                "走访检查项格式不对（每项只有状态和备注）".into(),
                format!("checklist: {e}"),
            )
        })
    }

    /// Notes are short, and every abnormal item says what is wrong.
    pub fn validate(&self) -> Result<(), DomainError> {
        self.problems().first_blocking()
    }

    /// Every area whose note is too long or which is abnormal without a note.
    pub fn problems(&self) -> Problems {
        let mut p = Problems::new();
        for (area, item) in self.items() {
            let note = item.note.as_deref().unwrap_or("");
            if note.chars().count() > CHECKLIST_NOTE_MAX_CHARS {
                p.block(
                    DomainError::new(
                        "checklist_note_too_long",
                        format!(
                            "“{}”一项的备注太长，最多{CHECKLIST_NOTE_MAX_CHARS}字",
                            area.label_zh()
                        ),
                        format!(
                            "checklist {area}: note longer than {CHECKLIST_NOTE_MAX_CHARS} characters"
                        ),
                    )
                    .on_field(format!("checklist.{area}")),
                );
            }
            if item.status == ItemStatus::Abnormal && note.trim().is_empty() {
                p.block(
                    DomainError::new(
                        "abnormal_needs_note",
                        format!("“{}”一项为异常，请简要写明情况", area.label_zh()),
                        format!("checklist {area} is abnormal: say what is wrong in the note"),
                    )
                    .on_field(format!("checklist.{area}")),
                );
            }
        }
        p
    }
}

impl GpsFix {
    /// Latitude, longitude and accuracy within their ranges.
    pub fn validate(&self) -> Result<(), DomainError> {
        let ok = (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
            && self.accuracy_m.is_finite()
            && self.accuracy_m >= 0.0;
        if !ok {
            return Err(DomainError::new(
                "invalid_gps",
                "定位数据不正确，可以不带定位保存",
                "the GPS fix is out of range",
            )
            .on_field("gps"));
        }
        Ok(())
    }
}

impl Visit {
    /// What a new visit holds where the form left a field out: the time it is saved,
    /// the director as visitor ([`Visit::visitor_of`]), no emergency, no action taken.
    pub fn defaults(now_rfc3339: &str, account: Option<&str>) -> Fields {
        let mut f = Fields::new();
        f.insert("visited_at".into(), Value::from(now_rfc3339));
        f.insert("visitor".into(), Value::from(Visit::visitor_of(account)));
        f.insert("emergency".into(), Value::Bool(false));
        f.insert("actions".into(), Value::Array(vec![]));
        f
    }

    /// The visitor a visit names when the director did not type a name: 儿童主任 and
    /// the enrolled account.
    pub fn visitor_of(account: Option<&str>) -> String {
        match account.map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => format!("儿童主任 {a}"),
            None => "儿童主任".into(),
        }
        .chars()
        .take(40)
        .collect()
    }

    /// The visit's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&VISIT, self)
    }

    /// Reads a visit from a row's fields (schema and checklist shape checks only).
    pub fn from_fields(fields: &Fields) -> Result<Visit, DomainError> {
        record::from_fields(&VISIT, fields, |f| {
            if let Some(c) = f.get("checklist") {
                Checklist::from_json(c)?;
            }
            record::json_field::<GpsFix>(f, "gps")?;
            record::json_field::<Void>(f, "voided")?;
            Ok(())
        })
    }

    /// The calendar day of the visit (the date part of `visited_at`, in the writer's
    /// time zone).
    pub fn visited_on(&self) -> Result<NaiveDate, DomainError> {
        timestamp_date("visited_at", &self.visited_at)
    }

    /// Checks the visit before it is saved: the schema types, then the checklist, an
    /// emergency (red, with a mandatory report), a red child's next visit within
    /// [`RED_NEXT_VISIT_MAX_DAYS`] days, a next due date not before the visit, a
    /// described problem for every referral or report.
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        record::check_schema(&VISIT, &self.to_fields())?;
        self.check_rules(today)
    }

    /// The rules beyond the schema's field types: what [`Self::validate`] checks after
    /// the schema. For a record read with `from_fields`, whose fields were just
    /// type-checked, this is all that is left to check.
    pub fn check_rules(&self, today: NaiveDate) -> Result<(), DomainError> {
        self.problems(today).first_blocking()
    }

    /// Every problem of the visit at once (what [`Self::check_rules`] refuses with
    /// the first of): the rules below, and a warning for an abnormal area on a visit
    /// rated green.
    pub fn problems(&self, today: NaiveDate) -> Problems {
        let mut p = Problems::new();
        p.check(required_text("visitor", &self.visitor));
        let visited_on = p.take(self.visited_on());
        if let Some(day) = visited_on {
            p.check(not_in_future("visited_at", day, today));
        }
        p.extend(self.checklist.problems());
        if let Some(gps) = &self.gps {
            p.check(gps.validate());
        }
        if let Some(void) = &self.voided {
            p.check(void.validate());
        }
        if self.emergency {
            if !self.actions.contains(&VisitAction::MandatoryReport) {
                p.block(DomainError::new(
                    "emergency_needs_report",
                    "紧急情况（暴力、虐待、拐卖、出走、危及生命）必须立即强制报告：请在处置措施中选择“强制报告”并报警",
                    "an emergency requires the mandatory report to the police",
                )
                .on_field("actions"));
            }
            if self.risk_colour != RiskColour::Red {
                p.block(
                    DomainError::new(
                        "emergency_must_be_red",
                        "出现紧急情况时风险等级应为红色",
                        "an emergency makes the risk colour red",
                    )
                    .on_field("risk_colour"),
                );
            }
        }
        let needs_problem = self
            .actions
            .iter()
            .any(|a| matches!(a, VisitAction::Referral | VisitAction::MandatoryReport));
        if needs_problem {
            p.check(required_text(
                "problems",
                self.problems.as_deref().unwrap_or(""),
            ));
        }
        if let (Some(next), Some(day)) = (self.next_due_on, visited_on) {
            p.check(not_before("next_due_on", next, "visited_at", day));
        }
        if let (RiskColour::Red, Some(day)) = (self.risk_colour, visited_on) {
            let latest = red_next_visit_latest(day);
            if self.next_due_on.is_none_or(|next| next > latest) {
                p.block(DomainError::new(
                    "red_needs_next_visit",
                    format!(
                        "红色风险儿童须在{RED_NEXT_VISIT_MAX_DAYS}天内再次走访：请把“{}”定在{latest}或之前",
                        field_label_zh("next_due_on")
                    ),
                    format!(
                        "a red child needs a next visit within {RED_NEXT_VISIT_MAX_DAYS} days (by {latest})"
                    ),
                )
                .on_field("next_due_on"));
            }
        }
        if self.risk_colour == RiskColour::Green {
            let abnormal: Vec<&str> = self
                .checklist
                .items()
                .iter()
                .filter(|(_, item)| item.status == ItemStatus::Abnormal)
                .map(|(area, _)| area.label_zh())
                .collect();
            if !abnormal.is_empty() {
                p.warn(DomainError::new(
                    "abnormal_but_green",
                    format!(
                        "“{}”为异常，但风险等级是绿色：请确认风险等级（黄色需关注，红色需尽快处置）",
                        abnormal.join("、")
                    ),
                    "an area is abnormal but the risk colour is green: check the risk colour",
                )
                .on_field("risk_colour"));
            }
        }
        p
    }
}

/// The latest day a red child's next visit may be on, after a visit on `day`.
pub fn red_next_visit_latest(day: NaiveDate) -> NaiveDate {
    day.checked_add_days(chrono::Days::new(RED_NEXT_VISIT_MAX_DAYS))
        .unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::child::tests::{d, today};
    use proptest::prelude::*;
    use serde_json::json;

    pub(crate) fn routine_visit() -> Visit {
        Visit {
            child_id: Uuid::now_v7(),
            visited_at: "2026-05-18T15:20:00+08:00".into(),
            mode: VisitMode::Home,
            people_present: Some("儿童、外祖母".into()),
            visitor: "刘主任".into(),
            gps: Some(GpsFix {
                lat: 37.5393,
                lon: 121.3914,
                accuracy_m: 12.0,
            }),
            checklist: Checklist::all(ItemStatus::Normal),
            risk_colour: RiskColour::Green,
            emergency: false,
            problems: None,
            actions: vec![],
            next_due_on: None,
            narrative: Some("孩子状态良好。".into()),
            voided: None,
        }
    }

    fn code_of(v: &Visit) -> Option<&'static str> {
        v.validate(today()).err().map(|e| e.code)
    }

    #[test]
    fn a_routine_visit_is_valid() {
        assert_eq!(routine_visit().validate(today()), Ok(()));
    }

    #[test]
    fn an_emergency_requires_the_mandatory_report() {
        let mut v = routine_visit();
        v.emergency = true;
        v.risk_colour = RiskColour::Red;
        v.next_due_on = Some(d("2026-05-19"));
        v.problems = Some("发现儿童身上有伤痕".into());
        v.actions = vec![VisitAction::Referral];
        let e = v.validate(today()).unwrap_err();
        assert_eq!(e.code, "emergency_needs_report");
        assert!(e.zh.contains("强制报告"));
        v.actions.push(VisitAction::MandatoryReport);
        assert_eq!(v.validate(today()), Ok(()));
        v.risk_colour = RiskColour::Yellow;
        assert_eq!(code_of(&v), Some("emergency_must_be_red"));
    }

    #[test]
    fn a_red_child_must_be_seen_again_within_31_days() {
        let mut v = routine_visit();
        v.risk_colour = RiskColour::Red;
        assert_eq!(code_of(&v), Some("red_needs_next_visit"));
        v.next_due_on = Some(d("2026-06-19"));
        assert_eq!(code_of(&v), Some("red_needs_next_visit"));
        v.next_due_on = Some(d("2026-06-18"));
        assert_eq!(v.validate(today()), Ok(()));
    }

    #[test]
    fn the_next_due_date_is_not_before_the_visit() {
        let mut v = routine_visit();
        v.next_due_on = Some(d("2026-05-17"));
        assert_eq!(code_of(&v), Some("date_order"));
    }

    #[test]
    fn a_visit_cannot_be_dated_tomorrow() {
        let mut v = routine_visit();
        v.visited_at = "2026-05-21T08:00:00+08:00".into();
        assert_eq!(code_of(&v), Some("date_in_future"));
    }

    #[test]
    fn an_abnormal_item_needs_a_note_and_notes_are_short() {
        let mut v = routine_visit();
        v.checklist.safety.status = ItemStatus::Abnormal;
        let e = v.validate(today()).unwrap_err();
        assert_eq!(e.code, "abnormal_needs_note");
        assert!(e.zh.contains("安全"));
        v.checklist.safety.note = Some("院内有无盖水井".into());
        assert_eq!(v.validate(today()), Ok(()));
        v.checklist.mood.note = Some("很".repeat(201));
        assert_eq!(code_of(&v), Some("checklist_note_too_long"));
    }

    #[test]
    fn the_checklist_has_exactly_the_six_areas() {
        let mut c = serde_json::to_value(Checklist::all(ItemStatus::Normal)).unwrap();
        assert_eq!(
            Checklist::from_json(&c),
            Ok(Checklist::all(ItemStatus::Normal))
        );
        c.as_object_mut().unwrap().remove("safety");
        let e = Checklist::from_json(&c).unwrap_err();
        assert!(e.zh.contains("缺少“安全”"), "{}", e.zh);

        let mut c = serde_json::to_value(Checklist::all(ItemStatus::Normal)).unwrap();
        c["hygiene"] = json!({"status": "normal"});
        assert!(Checklist::from_json(&c).unwrap_err().zh.contains("hygiene"));

        let mut c = serde_json::to_value(Checklist::all(ItemStatus::Normal)).unwrap();
        c["mood"] = json!({"status": "sad"});
        assert!(Checklist::from_json(&c)
            .unwrap_err()
            .zh
            .contains("“心理”一项的状态"));

        let mut f = routine_visit().to_fields();
        f.insert("checklist".into(), json!({"living": {"status": "normal"}}));
        assert_eq!(Visit::from_fields(&f).unwrap_err().code, "bad_checklist");
    }

    #[test]
    fn a_referral_says_what_the_problem_is() {
        let mut v = routine_visit();
        v.actions = vec![VisitAction::Referral];
        assert_eq!(code_of(&v), Some("required"));
    }

    #[test]
    fn a_void_needs_a_reason() {
        let mut v = routine_visit();
        v.voided = Some(Void {
            reason: "".into(),
            by: "刘主任".into(),
        });
        assert_eq!(code_of(&v), Some("void_reason_required"));
    }

    fn arb_item() -> impl Strategy<Value = ChecklistItem> {
        (
            prop::sample::select(ItemStatus::ALL.to_vec()),
            prop::option::of("\\PC{0,20}"),
        )
            .prop_map(|(status, note)| ChecklistItem { status, note })
    }

    fn arb_visit() -> impl Strategy<Value = Visit> {
        (
            [
                arb_item(),
                arb_item(),
                arb_item(),
                arb_item(),
                arb_item(),
                arb_item(),
            ],
            prop::sample::select(RiskColour::ALL.to_vec()),
            prop::sample::subsequence(VisitAction::ALL.to_vec(), 0..=3),
            any::<bool>(),
            prop::option::of(crate::child::tests::arb_date()),
            prop::option::of((
                -90_000_000i32..90_000_000,
                -180_000_000i32..180_000_000,
                0u16..5000,
            )),
        )
            .prop_map(|(items, risk, actions, emergency, next, gps)| {
                let [living, guardianship, education, health, safety, mood] = items;
                Visit {
                    checklist: Checklist {
                        living,
                        guardianship,
                        education,
                        health,
                        safety,
                        mood,
                    },
                    risk_colour: risk,
                    actions,
                    emergency,
                    next_due_on: next,
                    gps: gps.map(|(lat, lon, acc)| GpsFix {
                        lat: f64::from(lat) / 1e6,
                        lon: f64::from(lon) / 1e6,
                        accuracy_m: f64::from(acc),
                    }),
                    ..routine_visit()
                }
            })
    }

    proptest! {
        #[test]
        fn reading_back_the_written_fields_gives_the_same_visit(v in arb_visit()) {
            prop_assert_eq!(Visit::from_fields(&v.to_fields()), Ok(v));
        }
    }
}
