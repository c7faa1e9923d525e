//! Parents, grandparents and the entrusted caregiver (受委托照护人): one row each per
//! child. Their whereabouts decide a child's category (a parent away working, missing,
//! imprisoned …); the entrusted caregiver must be an adult able to care.

use crate::codes::{GuardianRole, Sex, Whereabouts};
use crate::error::DomainError;
use crate::id_number::parse_id_number;
use crate::record::{self, age_on, check_phone, required_text, Fields};
use crate::schema::GUARDIAN;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One parent, guardian or caregiver of a child (table `guardian`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Guardian {
    /// The child this person is a parent, guardian or caregiver of.
    pub child_id: Uuid,
    /// Who the person is to the child.
    pub role: GuardianRole,
    /// The person's full name.
    pub name: String,
    /// 身份证号 in stored form; masked on screen.
    pub id_number: Option<String>,
    /// Relationship to the child in words (外祖母, 叔叔, 邻居 …).
    pub relationship: Option<String>,
    /// A phone number to reach the person.
    pub phone: Option<String>,
    /// Where the person is (at home, away working, missing, …).
    pub whereabouts: Option<Whereabouts>,
    /// Where the person works while away.
    pub work_location: Option<String>,
    /// The person's health, in a few words.
    pub health: Option<String>,
    /// Where the person lives.
    pub address: Option<String>,
    #[serde(default)]
    /// Soft delete; the record and its history stay.
    pub deleted: bool,
}

/// The age of majority (完全民事行为能力): an entrusted caregiver must have reached it.
pub const ADULT_AGE: i32 = 18;

impl Guardian {
    /// The guardian's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&GUARDIAN, self)
    }

    /// Reads a guardian from a row's fields (schema checks only).
    pub fn from_fields(fields: &Fields) -> Result<Guardian, DomainError> {
        record::from_fields(&GUARDIAN, fields, |_| Ok(()))
    }

    /// Checks the record before it is saved: the schema types, then a valid ID number
    /// (a father's says male, a mother's female), a dialable phone, and for an entrusted
    /// caregiver a stated relationship and adulthood.
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        record::check_schema(&GUARDIAN, &self.to_fields())?;
        self.check_rules(today)
    }

    /// The rules beyond the schema's field types: what [`Self::validate`] checks after
    /// the schema. For a record read with `from_fields`, whose fields were just
    /// type-checked, this is all that is left to check.
    pub fn check_rules(&self, today: NaiveDate) -> Result<(), DomainError> {
        required_text("name", &self.name)?;
        if let Some(phone) = &self.phone {
            check_phone("phone", phone)?;
        }
        if let Some(id) = &self.id_number {
            let parsed = parse_id_number(id, today)?;
            let expected = match self.role {
                GuardianRole::Father => Some(Sex::Male),
                GuardianRole::Mother => Some(Sex::Female),
                _ => None,
            };
            if expected.is_some_and(|sex| sex != parsed.sex) {
                return Err(DomainError::new(
                    "id_number_sex_mismatch",
                    format!(
                        "身份证号显示性别为{}，与身份“{}”不符，请核对",
                        parsed.sex.label_zh(),
                        self.role.label_zh()
                    ),
                    format!(
                        "the ID number says {}, the role is {}",
                        parsed.sex, self.role
                    ),
                )
                .on_field("id_number"));
            }
            if self.role == GuardianRole::EntrustedCaregiver {
                let age = age_on(parsed.birth_date, today);
                if age < ADULT_AGE {
                    return Err(caregiver_not_adult(age));
                }
            }
        }
        if self.role == GuardianRole::EntrustedCaregiver {
            required_text("relationship", self.relationship.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }
}

/// The error for a caregiver under 18; shared with the care agreement's checks.
pub(crate) fn caregiver_not_adult(age: i32) -> DomainError {
    DomainError::new(
        "caregiver_not_adult",
        format!("受委托照护人须为成年人（年满18周岁），按身份证号此人{age}岁"),
        format!("an entrusted caregiver must be an adult; the ID number says {age}"),
    )
    .on_field("id_number")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::tests::{d, today};

    fn grandmother() -> Guardian {
        Guardian {
            child_id: Uuid::now_v7(),
            role: GuardianRole::EntrustedCaregiver,
            name: "张桂英".into(),
            id_number: Some("370602198001010012".into()),
            relationship: Some("外祖母".into()),
            phone: Some("13812345678".into()),
            whereabouts: Some(Whereabouts::AtHome),
            work_location: None,
            health: Some("良好".into()),
            address: Some("某村12号".into()),
            deleted: false,
        }
    }

    #[test]
    fn an_adult_caregiver_with_a_relationship_is_valid() {
        assert_eq!(grandmother().validate(today()), Ok(()));
    }

    #[test]
    fn a_caregiver_must_be_an_adult_by_the_id_number() {
        let mut g = grandmother();
        // Born 2010-06-07: 15 on 2026-05-20.
        g.id_number = Some("370687201006070020".into());
        let e = g.validate(today()).unwrap_err();
        assert_eq!(e.code, "caregiver_not_adult");
        assert!(e.zh.contains("15岁"));
        // The same person is fine as a sibling noted under another role.
        g.role = GuardianRole::OtherGuardian;
        assert_eq!(g.validate(today()), Ok(()));
        let _ = d("2026-01-01");
    }

    #[test]
    fn a_caregiver_needs_a_relationship() {
        let mut g = grandmother();
        g.relationship = Some(" ".into());
        assert_eq!(g.validate(today()).unwrap_err().code, "required");
    }

    #[test]
    fn a_fathers_id_number_says_male() {
        let mut g = grandmother();
        g.role = GuardianRole::Father;
        g.id_number = Some("370687201006070020".into());
        assert_eq!(
            g.validate(today()).unwrap_err().code,
            "id_number_sex_mismatch"
        );
    }

    #[test]
    fn a_phone_must_be_dialable() {
        let mut g = grandmother();
        g.phone = Some("138".into());
        assert_eq!(g.validate(today()).unwrap_err().code, "invalid_phone");
    }

    #[test]
    fn fields_round_trip() {
        let g = grandmother();
        assert_eq!(Guardian::from_fields(&g.to_fields()), Ok(g));
    }
}
