//! 一人一档: the child's file, the row every other record names. Its rules keep the
//! roster honest: an ID number that agrees with the birth date and sex, categories for
//! every child on the roster, an exit with its reason and date, and the legal age limit
//! of a left-behind child (under 16).

use crate::codes::{
    Assistance, Category, ChildStatus, DisabilityType, Enrolment, ExitReason, GuardianshipRating,
    HealthCondition, RiskColour, SchoolStage, Sex,
};
use crate::error::DomainError;
use crate::id_number::parse_id_number;
use crate::problems::Problems;
use crate::record::{self, age_on, not_before, not_in_future, required_text, Fields};
use crate::schema::CHILD;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The child's file (table `child`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Child {
    /// The child's full name.
    pub name: String,
    /// The child's sex.
    pub sex: Sex,
    /// 民族, e.g. 汉族.
    pub ethnicity: Option<String>,
    /// The child's date of birth.
    pub birth_date: NaiveDate,
    /// 身份证号 in stored form (18 characters, final `X` upper case). Masked on screen.
    pub id_number: Option<String>,
    /// Whether the child has a household registration (无户籍 is a problem to refer).
    pub household_registered: bool,
    /// 户籍地址.
    pub registered_address: Option<String>,
    /// 现住址: where the child lives now.
    pub current_address: Option<String>,
    /// The village the child belongs to: the record's scope.
    pub village_code: String,
    /// Healthy, disabled (type and grade) or ill.
    pub health: Option<Health>,
    /// School, stage, boarding, out of school or dropped out.
    pub school: Option<School>,
    /// The child's categories; at least one while on the roster.
    pub categories: Vec<Category>,
    /// 监护情况评价: good, fair or poor.
    pub guardianship_rating: Option<GuardianshipRating>,
    /// The risk colour from the latest visit.
    pub risk_colour: RiskColour,
    /// Assistance the family receives (低保, 特困, …).
    pub assistance: Option<Vec<Assistance>>,
    /// On the roster or exited.
    pub status: ChildStatus,
    /// Why the child left the roster (required when exited).
    pub exit_reason: Option<ExitReason>,
    /// When the child left the roster (required when exited).
    pub exit_date: Option<NaiveDate>,
    /// The day the child was added to the roster (starts the first-visit clock).
    pub added_on: NaiveDate,
    /// Free notes, kept short.
    pub notes: Option<String>,
    /// Soft delete; the record and its history stay.
    #[serde(default)]
    pub deleted: bool,
}

/// A child's health (field `health`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Health {
    /// Healthy, disabled or ill.
    pub condition: HealthCondition,
    /// For a disabled child: the type on the 残疾人证.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disability_type: Option<DisabilityType>,
    /// For a disabled child: grade 1 (most severe) to 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disability_grade: Option<u8>,
    /// For an ill child: the illness, in a few words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub illness: Option<String>,
}

/// A child's schooling (field `school`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct School {
    /// Enrolled, never enrolled (失学) or dropped out (辍学).
    pub enrolment: Enrolment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The stage of schooling.
    pub stage: Option<SchoolStage>,
    /// The school's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the child boards at school.
    #[serde(default)]
    pub boarding: bool,
}

/// The age limit of 农村留守儿童: a left-behind child is under 16.
pub const LEFT_BEHIND_AGE_LIMIT: i32 = 16;

impl Child {
    /// The child's fields as the schema names them (every schema field, `null` when
    /// absent): what the device writes as changes.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&CHILD, self)
    }

    /// Reads a child from a row's fields. Refuses unknown fields, values of the wrong
    /// type and unknown codes (an unknown category gives `unknown_category`). Does not
    /// apply the domain rules: call [`Child::validate`] for those.
    pub fn from_fields(fields: &Fields) -> Result<Child, DomainError> {
        record::from_fields(&CHILD, fields, |f| {
            record::json_field::<Health>(f, "health")?;
            record::json_field::<School>(f, "school")?;
            Ok(())
        })
    }

    /// What a newly registered child's file holds where the registration left a field
    /// out: risk green (until a visit says otherwise), a household registration, on the
    /// roster, added today.
    pub fn registration_defaults(today: NaiveDate) -> Fields {
        let mut f = Fields::new();
        f.insert("risk_colour".into(), Value::from(RiskColour::Green.code()));
        f.insert("household_registered".into(), Value::Bool(true));
        f.insert("status".into(), Value::from(ChildStatus::Active.code()));
        f.insert("added_on".into(), Value::from(today.to_string()));
        f
    }

    /// The child's age in completed years on `day`.
    pub fn age_on(&self, day: NaiveDate) -> i32 {
        age_on(self.birth_date, day)
    }

    /// Checks the child's file before it is saved: the schema types, then the rules.
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        record::check_schema(&CHILD, &self.to_fields())?;
        self.check_rules(today)
    }

    /// The rules beyond the schema's field types: what [`Self::validate`] checks after
    /// the schema. For a record read with `from_fields`, whose fields were just
    /// type-checked, this is all that is left to check.
    pub fn check_rules(&self, today: NaiveDate) -> Result<(), DomainError> {
        self.problems(today).first_blocking()
    }

    /// Every problem of the child's file at once (what [`Self::check_rules`] refuses
    /// with the first of).
    pub fn problems(&self, today: NaiveDate) -> Problems {
        let mut p = Problems::new();
        p.check(required_text("name", &self.name));
        p.check(required_text("village_code", &self.village_code));
        p.check(not_in_future("birth_date", self.birth_date, today));
        p.check(not_in_future("added_on", self.added_on, today));
        p.check(not_before(
            "added_on",
            self.added_on,
            "birth_date",
            self.birth_date,
        ));
        if let Some(id) = &self.id_number {
            p.check(self.check_id_number(id, today));
        }
        if let Some(health) = &self.health {
            p.check(health.validate());
        }
        match self.status {
            ChildStatus::Active => p.check(self.check_active(today)),
            ChildStatus::Exited => p.check(self.check_exit(today)),
        };
        p
    }

    fn check_id_number(&self, id: &str, today: NaiveDate) -> Result<(), DomainError> {
        let parsed = parse_id_number(id, today)?;
        if parsed.birth_date != self.birth_date {
            return Err(DomainError::new(
                "id_number_birth_date_mismatch",
                format!(
                    "身份证号中的出生日期（{}）与填写的出生日期（{}）不一致，请核对",
                    parsed.birth_date, self.birth_date
                ),
                format!(
                    "the ID number says born {}, the file says {}",
                    parsed.birth_date, self.birth_date
                ),
            )
            .on_field("id_number"));
        }
        if parsed.sex != self.sex {
            return Err(DomainError::new(
                "id_number_sex_mismatch",
                format!(
                    "身份证号显示性别为{}，与填写的性别（{}）不一致，请核对",
                    parsed.sex.label_zh(),
                    self.sex.label_zh()
                ),
                format!(
                    "the ID number says {}, the file says {}",
                    parsed.sex, self.sex
                ),
            )
            .on_field("id_number"));
        }
        Ok(())
    }

    fn check_active(&self, today: NaiveDate) -> Result<(), DomainError> {
        if self.categories.is_empty() {
            return Err(DomainError::new(
                "categories_required",
                "在册儿童至少要有一个儿童类别",
                "a child on the roster needs at least one category",
            )
            .on_field("categories"));
        }
        if self.exit_reason.is_some() || self.exit_date.is_some() {
            return Err(DomainError::new(
                "exit_on_active_child",
                "在册儿童不应有退出原因或退出日期；如儿童已退出，请把状态改为“已退出”",
                "an active child has no exit reason or exit date",
            )
            .on_field("status"));
        }
        let age = self.age_on(today);
        if self.categories.contains(&Category::LeftBehind) && age >= LEFT_BEHIND_AGE_LIMIT {
            return Err(DomainError::new(
                "left_behind_too_old",
                format!(
                    "农村留守儿童须未满16周岁，该儿童已{age}岁；请去掉“农村留守儿童”类别或办理退出"
                ),
                format!("a left-behind child is under 16; this child is {age}"),
            )
            .on_field("categories"));
        }
        Ok(())
    }

    fn check_exit(&self, today: NaiveDate) -> Result<(), DomainError> {
        let (Some(reason), Some(exit_date)) = (self.exit_reason, self.exit_date) else {
            let field = if self.exit_reason.is_none() {
                "exit_reason"
            } else {
                "exit_date"
            };
            return Err(DomainError::new(
                "exit_incomplete",
                "儿童退出时须填写退出原因和退出日期",
                "an exited child needs an exit reason and an exit date",
            )
            .on_field(field));
        };
        not_in_future("exit_date", exit_date, today)?;
        not_before("exit_date", exit_date, "birth_date", self.birth_date)?;
        if reason == ExitReason::Turned18 && age_on(self.birth_date, exit_date) < 18 {
            return Err(DomainError::new(
                "exit_before_18",
                format!("退出原因为“年满18周岁”，但儿童在退出日期（{exit_date}）尚未满18周岁"),
                format!("exit reason turned_18, but the child is under 18 on {exit_date}"),
            )
            .on_field("exit_date"));
        }
        Ok(())
    }
}

/// 一人一档: the refusal of a second file for a child whose ID number already has one,
/// naming that file (name, village, the number masked) so the director opens it
/// instead. `exited`: the existing file has left the roster (it can be taken back on).
pub fn duplicate_id_number(
    existing_name: &str,
    existing_village: &str,
    id_number: &str,
    exited: bool,
) -> DomainError {
    let masked = crate::id_number::mask_id_number(id_number);
    let (state_zh, state_en) = if exited {
        (
            "（已退出，可重新纳入）",
            " (exited; it can be taken back onto the roster)",
        )
    } else {
        ("", "")
    };
    DomainError::new(
        "duplicate_id_number",
        format!(
            "身份证号 {masked} 已有档案：{existing_name}（村居 {existing_village}）{state_zh}。一人一档，请打开这份档案修改，不要重复登记"
        ),
        format!(
            "the child with ID number {masked} already has a file on this device: {existing_name} (village {existing_village}){state_en}; open that file instead of registering the child again"
        ),
    )
    .on_field("id_number")
}

impl Health {
    /// A disabled child's grade is 1–4; the type and grade belong to disabled children.
    pub fn validate(&self) -> Result<(), DomainError> {
        if let Some(g) = self.disability_grade {
            if !(1..=4).contains(&g) {
                return Err(DomainError::new(
                    "invalid_disability_grade",
                    "残疾等级应为一级到四级",
                    "a disability grade is 1 to 4",
                )
                .on_field("health"));
            }
        }
        let has_disability = self.disability_type.is_some() || self.disability_grade.is_some();
        if has_disability && self.condition != HealthCondition::Disabled {
            return Err(DomainError::new(
                "disability_without_condition",
                "填写了残疾类别或等级时，健康状况应选“残疾”",
                "a disability type or grade needs the health condition `disabled`",
            )
            .on_field("health"));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    pub(crate) fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    pub(crate) fn today() -> NaiveDate {
        d("2026-05-20")
    }

    /// A left-behind boy born 2015-01-01 in 芝罘区, with a valid ID number.
    pub(crate) fn xiaoming() -> Child {
        Child {
            name: "王小明".into(),
            sex: Sex::Male,
            ethnicity: Some("汉族".into()),
            birth_date: d("2015-01-01"),
            id_number: Some("370602201501011235".into()),
            household_registered: true,
            registered_address: None,
            current_address: Some("芝罘区幸福街道某村12号".into()),
            village_code: "370602001001".into(),
            health: Some(Health {
                condition: HealthCondition::Healthy,
                disability_type: None,
                disability_grade: None,
                illness: None,
            }),
            school: Some(School {
                enrolment: Enrolment::Enrolled,
                stage: Some(SchoolStage::Primary),
                name: Some("幸福小学".into()),
                boarding: false,
            }),
            categories: vec![Category::LeftBehind],
            guardianship_rating: Some(GuardianshipRating::Fair),
            risk_colour: RiskColour::Green,
            assistance: None,
            status: ChildStatus::Active,
            exit_reason: None,
            exit_date: None,
            added_on: d("2026-03-02"),
            notes: None,
            deleted: false,
        }
    }

    fn code_of(c: &Child) -> Option<&'static str> {
        c.validate(today()).err().map(|e| e.code)
    }

    #[test]
    fn a_complete_file_is_valid() {
        assert_eq!(xiaoming().validate(today()), Ok(()));
    }

    #[test]
    fn the_id_number_must_be_valid_and_agree_with_birth_date_and_sex() {
        let mut c = xiaoming();
        c.id_number = Some("370602201501011234".into());
        assert_eq!(code_of(&c), Some("invalid_id_number"));

        let mut c = xiaoming();
        c.birth_date = d("2015-01-02");
        assert_eq!(code_of(&c), Some("id_number_birth_date_mismatch"));

        let mut c = xiaoming();
        c.sex = Sex::Female;
        let e = c.validate(today()).unwrap_err();
        assert_eq!(e.code, "id_number_sex_mismatch");
        assert_eq!(e.field.as_deref(), Some("id_number"));
    }

    #[test]
    fn a_birth_date_in_the_future_is_refused() {
        let mut c = xiaoming();
        c.id_number = None;
        c.birth_date = d("2026-06-01");
        c.added_on = d("2026-05-20");
        assert_eq!(code_of(&c), Some("date_in_future"));
    }

    #[test]
    fn an_active_child_needs_a_category_even_past_18() {
        let mut c = xiaoming();
        c.id_number = None;
        c.birth_date = d("2007-01-01");
        c.categories = vec![Category::Difficulty];
        assert_eq!(c.validate(today()), Ok(()));
        c.categories.clear();
        assert_eq!(code_of(&c), Some("categories_required"));
    }

    #[test]
    fn a_left_behind_child_must_be_under_16() {
        let mut c = xiaoming();
        c.id_number = None;
        c.birth_date = d("2010-05-20");
        let e = c.validate(today()).unwrap_err();
        assert_eq!(e.code, "left_behind_too_old");
        assert!(e.zh.contains("16周岁"));
        c.birth_date = d("2010-05-21");
        assert_eq!(c.validate(today()), Ok(()));
    }

    #[test]
    fn an_exit_needs_its_reason_and_date() {
        let mut c = xiaoming();
        c.status = ChildStatus::Exited;
        assert_eq!(code_of(&c), Some("exit_incomplete"));
        c.exit_reason = Some(ExitReason::ParentReturned);
        assert_eq!(code_of(&c), Some("exit_incomplete"));
        c.exit_date = Some(d("2026-05-01"));
        assert_eq!(c.validate(today()), Ok(()));
        c.exit_reason = Some(ExitReason::Turned18);
        assert_eq!(code_of(&c), Some("exit_before_18"));
    }

    #[test]
    fn an_active_child_carries_no_exit() {
        let mut c = xiaoming();
        c.exit_date = Some(d("2026-05-01"));
        assert_eq!(code_of(&c), Some("exit_on_active_child"));
    }

    #[test]
    fn an_unknown_category_says_which_categories_exist() {
        let mut f = xiaoming().to_fields();
        f.insert("categories".into(), json!(["left_behind", "orphan"]));
        let e = Child::from_fields(&f).unwrap_err();
        assert_eq!(e.code, "unknown_category");
        assert_eq!(e.field.as_deref(), Some("categories"));
        assert!(e.zh.starts_with("未知的儿童类别“orphan”"), "{}", e.zh);
        assert!(e.zh.contains("农村留守儿童"));
    }

    #[test]
    fn fields_are_exactly_the_schema_fields_in_json_form() {
        let f = xiaoming().to_fields();
        let names: Vec<&str> = f.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = CHILD.fields.iter().map(|f| f.name).collect();
        expected.sort();
        let mut names_sorted = names.clone();
        names_sorted.sort();
        assert_eq!(names_sorted, expected);
        assert_eq!(f["birth_date"], json!("2015-01-01"));
        assert_eq!(f["categories"], json!(["left_behind"]));
        assert_eq!(f["assistance"], json!(null));
        assert_eq!(f["health"], json!({"condition": "healthy"}));
    }

    #[test]
    fn reading_refuses_unknown_fields_and_wrong_types() {
        let mut f = xiaoming().to_fields();
        f.insert("nickname".into(), json!("明明"));
        assert_eq!(Child::from_fields(&f).unwrap_err().code, "unknown_field");

        let mut f = xiaoming().to_fields();
        f.insert("birth_date".into(), json!("2015/01/01"));
        let e = Child::from_fields(&f).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("bad_value", Some("birth_date"))
        );
        assert!(e.zh.contains("出生日期"));

        let mut f = xiaoming().to_fields();
        f.insert("health".into(), json!({"condition": "sad"}));
        let e = Child::from_fields(&f).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("health"));

        let mut f = xiaoming().to_fields();
        f.remove("deleted");
        assert_eq!(Child::from_fields(&f).map(|c| c.deleted), Ok(false));
    }

    #[test]
    fn disability_grade_is_one_to_four() {
        let mut c = xiaoming();
        c.health = Some(Health {
            condition: HealthCondition::Disabled,
            disability_type: Some(DisabilityType::Hearing),
            disability_grade: Some(5),
            illness: None,
        });
        assert_eq!(code_of(&c), Some("invalid_disability_grade"));
    }

    pub(crate) fn arb_date() -> impl Strategy<Value = NaiveDate> {
        (0u64..40_000).prop_map(|n| d("1950-01-01") + chrono::Days::new(n))
    }

    fn arb_child() -> impl Strategy<Value = Child> {
        (
            (
                "[\\p{Han}]{2,4}",
                prop::option::of("[\\p{Han}a-z0-9 ]{0,30}"),
            ),
            (
                prop::sample::select(Sex::ALL.to_vec()),
                arb_date(),
                arb_date(),
            ),
            prop::sample::subsequence(Category::ALL.to_vec(), 0..=6),
            prop::option::of(prop::sample::subsequence(Assistance::ALL.to_vec(), 0..=4)),
            (
                prop::sample::select(RiskColour::ALL.to_vec()),
                prop::sample::select(ChildStatus::ALL.to_vec()),
                prop::option::of(prop::sample::select(ExitReason::ALL.to_vec())),
                prop::option::of(arb_date()),
            ),
            (any::<bool>(), any::<bool>()),
            prop::option::of((
                prop::sample::select(HealthCondition::ALL.to_vec()),
                prop::option::of(prop::sample::select(DisabilityType::ALL.to_vec())),
                prop::option::of(1u8..=4),
            )),
        )
            .prop_map(
                |(
                    (name, notes),
                    (sex, birth, added),
                    categories,
                    assistance,
                    status,
                    flags,
                    health,
                )| {
                    Child {
                        name,
                        sex,
                        ethnicity: None,
                        birth_date: birth,
                        id_number: None,
                        household_registered: flags.0,
                        registered_address: None,
                        current_address: notes.clone(),
                        village_code: "370602001001".into(),
                        health: health.map(|(condition, disability_type, disability_grade)| {
                            Health {
                                condition,
                                disability_type,
                                disability_grade,
                                illness: None,
                            }
                        }),
                        school: None,
                        categories,
                        guardianship_rating: None,
                        risk_colour: status.0,
                        assistance,
                        status: status.1,
                        exit_reason: status.2,
                        exit_date: status.3,
                        added_on: added,
                        notes,
                        deleted: flags.1,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn reading_back_the_written_fields_gives_the_same_child(c in arb_child()) {
            let back = Child::from_fields(&c.to_fields());
            prop_assert_eq!(back, Ok(c));
        }
    }
}
