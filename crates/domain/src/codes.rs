//! The codes of the schema's code lists as Rust enums. Each serialises as its code
//! string, so a typed record is JSON-compatible with the schema; a test keeps every
//! enum equal to its list in [`crate::schema`]. Chinese names come from
//! [`crate::labels::code_label_zh`].

#[cfg(test)]
use crate::schema;

/// Declares a code enum: variants with their wire codes, `ALL`, `code()`,
/// `from_code()`, `label_zh()`, and serde as the code string.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident $(= $list:path)? {
            $( $(#[$vmeta:meta])* $var:ident = $code:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $code)] $var, )+
        }

        impl $name {
            /// Every value, in the order of the schema's code list.
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            /// The code stored in records and sent over the wire.
            pub fn code(self) -> &'static str {
                match self { $($name::$var => $code,)+ }
            }

            /// The value for a stored code, or `None` for an unknown code.
            pub fn from_code(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$var),)+ _ => None }
            }

            /// The name shown to users (zh-CN).
            pub fn label_zh(self) -> &'static str {
                crate::labels::code_label_zh(self.code())
            }

            $(
                #[cfg(test)]
                const SCHEMA_CODES: &'static [&'static str] = $list;
            )?
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

code_enum! {
    /// 儿童类别: a child may carry several.
    Category = schema::CATEGORY_CODES {
        /// 机构养育孤儿
        InstitutionOrphan = "institution_orphan",
        /// 社会散居孤儿
        CommunityOrphan = "community_orphan",
        /// 事实无人抚养儿童
        DeFactoUnsupported = "de_facto_unsupported",
        /// 重点困境儿童
        KeyDifficulty = "key_difficulty",
        /// 困境儿童
        Difficulty = "difficulty",
        /// 农村留守儿童 (under 16)
        LeftBehind = "left_behind",
    }
}

code_enum! {
    /// 性别, also read from the 17th digit of a 身份证号.
    Sex = schema::SEX_CODES {
        Male = "male",
        Female = "female",
    }
}

code_enum! {
    /// 风险等级 after a visit. The declaration order is the urgency order.
    RiskColour = schema::RISK_CODES {
        /// 红: intervene now.
        Red = "red",
        /// 黄: intervene regularly.
        Yellow = "yellow",
        /// 蓝: keep watching.
        Blue = "blue",
        /// 绿: fine.
        Green = "green",
    }
}

code_enum! {
    /// 监护情况评价.
    GuardianshipRating = schema::GUARDIANSHIP_RATING_CODES {
        Good = "good",
        Fair = "fair",
        Poor = "poor",
    }
}

code_enum! {
    /// Whether a child is on the roster.
    ChildStatus = schema::CHILD_STATUS_CODES {
        Active = "active",
        Exited = "exited",
    }
}

code_enum! {
    /// Why a child left the roster.
    ExitReason = schema::EXIT_REASON_CODES {
        Turned18 = "turned_18",
        MovedAway = "moved_away",
        ParentReturned = "parent_returned",
        Died = "died",
        Adopted = "adopted",
        NoLongerEligible = "no_longer_eligible",
        Other = "other",
    }
}

code_enum! {
    /// Assistance a child's family receives.
    Assistance = schema::ASSISTANCE_CODES {
        /// 低保
        Dibao = "dibao",
        /// 特困
        Tekun = "tekun",
        /// 临时救助
        TemporaryRelief = "temporary_relief",
        /// 医疗救助
        MedicalRelief = "medical_relief",
    }
}

code_enum! {
    /// Who a guardian row is to the child.
    GuardianRole = schema::GUARDIAN_ROLE_CODES {
        Father = "father",
        Mother = "mother",
        Grandparent = "grandparent",
        /// 受委托照护人 (the 乙方 of a care agreement).
        EntrustedCaregiver = "entrusted_caregiver",
        OtherGuardian = "other_guardian",
    }
}

code_enum! {
    /// Where a parent or guardian is, in the terms that decide a child's category.
    Whereabouts = schema::WHEREABOUTS_CODES {
        AtHome = "at_home",
        AwayWorking = "away_working",
        SeverelyDisabled = "severely_disabled",
        SeriouslyIll = "seriously_ill",
        Imprisoned = "imprisoned",
        DrugRehab = "drug_rehab",
        DeprivedOfLiberty = "deprived_of_liberty",
        Missing = "missing",
        GuardianshipRevoked = "guardianship_revoked",
        Deported = "deported",
        Deceased = "deceased",
    }
}

code_enum! {
    /// 走访方式.
    VisitMode = schema::VISIT_MODE_CODES {
        Home = "home",
        Phone = "phone",
        WechatVideo = "wechat_video",
        School = "school",
    }
}

code_enum! {
    /// What the director did about the problems found on a visit.
    VisitAction = schema::VISIT_ACTION_CODES {
        ResolvedOnSpot = "resolved_on_spot",
        Referral = "referral",
        /// 强制报告 to the police; required for every emergency.
        MandatoryReport = "mandatory_report",
    }
}

code_enum! {
    /// Who signs a care agreement.
    SignerRole = schema::SIGNER_ROLE_CODES {
        /// 甲方
        Principal = "principal",
        /// 乙方
        Caregiver = "caregiver",
        /// 见证方 (village committee or child director)
        Witness = "witness",
    }
}

code_enum! {
    /// The state of a care agreement draft.
    AgreementStatus = schema::AGREEMENT_STATUS_CODES {
        Draft = "draft",
        Signed = "signed",
        Abandoned = "abandoned",
    }
}

code_enum! {
    /// 转介类别: which kind of body a problem goes to.
    ReferralKind = schema::REFERRAL_KIND_CODES {
        /// → civil affairs temporary guardianship
        MissingGuardianship = "missing_guardianship",
        /// → education bureau and school
        OutOfSchool = "out_of_school",
        /// → police household office
        NoHouseholdRegistration = "no_household_registration",
        /// → police, through the mandatory report
        HarmOrAbuse = "harm_or_abuse",
        Other = "other",
    }
}

code_enum! {
    /// Work for a director.
    TaskKind = schema::TASK_KIND_CODES {
        /// A minor on the 低保 or disability list who is not on the roster.
        CheckListedMinor = "check_listed_minor",
        FirstVisit = "first_visit",
        WinterVisit = "winter_visit",
        Other = "other",
    }
}

code_enum! {
    /// 正常 / 关注 / 异常 for one checklist area of a visit.
    ItemStatus {
        Normal = "normal",
        Watch = "watch",
        /// Needs a note saying what is wrong.
        Abnormal = "abnormal",
    }
}

code_enum! {
    /// The six areas every visit checks, in the order a visit form shows them.
    ChecklistArea {
        /// 生活: food, housing, allowance received.
        Living = "living",
        /// 监护: caregiver present, agreement valid, contact with parents.
        Guardianship = "guardianship",
        /// 教育: enrolled, attending, dropout risk.
        Education = "education",
        /// 健康: illness, disability, medical insurance.
        Health = "health",
        /// 安全: home hazards, drowning, signs of violence.
        Safety = "safety",
        /// 心理: mood and behaviour.
        Mood = "mood",
    }
}

code_enum! {
    /// A child's health in the child's file.
    HealthCondition {
        Healthy = "healthy",
        Disabled = "disabled",
        Ill = "ill",
    }
}

code_enum! {
    /// The seven disability types of the 残疾人证.
    DisabilityType {
        Visual = "visual",
        Hearing = "hearing",
        Speech = "speech",
        Physical = "physical",
        Intellectual = "intellectual",
        Mental = "mental",
        Multiple = "multiple",
    }
}

code_enum! {
    /// The school stage a child is at.
    SchoolStage {
        BelowSchoolAge = "below_school_age",
        Preschool = "preschool",
        Primary = "primary",
        JuniorSecondary = "junior_secondary",
        SeniorSecondary = "senior_secondary",
        Vocational = "vocational",
        SpecialEducation = "special_education",
    }
}

code_enum! {
    /// Whether a child goes to school: 失学 and 辍学 are problems to refer.
    Enrolment {
        Enrolled = "enrolled",
        /// 失学: never enrolled.
        NeverEnrolled = "never_enrolled",
        /// 辍学: dropped out.
        DroppedOut = "dropped_out",
    }
}

code_enum! {
    /// Who the 甲方 of a care agreement is to the child.
    PrincipalRelation {
        Father = "father",
        Mother = "mother",
        Guardian = "guardian",
    }
}

code_enum! {
    /// What happens when a care agreement's period ends.
    #[derive(Default)]
    Renewal {
        /// The agreement ends; a new one is signed to continue (the default).
        #[default]
        NewAgreement = "new_agreement",
        /// Renewed for a year unless a party objects.
        Automatic = "automatic",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Vec<&'static str> {
        all.iter().map(|v| code(*v)).collect()
    }

    #[test]
    fn every_enum_matches_its_schema_code_list() {
        assert_eq!(codes(Category::ALL, Category::code), Category::SCHEMA_CODES);
        assert_eq!(codes(Sex::ALL, Sex::code), Sex::SCHEMA_CODES);
        assert_eq!(
            codes(RiskColour::ALL, RiskColour::code),
            RiskColour::SCHEMA_CODES
        );
        assert_eq!(
            codes(GuardianshipRating::ALL, GuardianshipRating::code),
            GuardianshipRating::SCHEMA_CODES
        );
        assert_eq!(
            codes(ChildStatus::ALL, ChildStatus::code),
            ChildStatus::SCHEMA_CODES
        );
        assert_eq!(
            codes(ExitReason::ALL, ExitReason::code),
            ExitReason::SCHEMA_CODES
        );
        assert_eq!(
            codes(Assistance::ALL, Assistance::code),
            Assistance::SCHEMA_CODES
        );
        assert_eq!(
            codes(GuardianRole::ALL, GuardianRole::code),
            GuardianRole::SCHEMA_CODES
        );
        assert_eq!(
            codes(Whereabouts::ALL, Whereabouts::code),
            Whereabouts::SCHEMA_CODES
        );
        assert_eq!(
            codes(VisitMode::ALL, VisitMode::code),
            VisitMode::SCHEMA_CODES
        );
        assert_eq!(
            codes(VisitAction::ALL, VisitAction::code),
            VisitAction::SCHEMA_CODES
        );
        assert_eq!(
            codes(SignerRole::ALL, SignerRole::code),
            SignerRole::SCHEMA_CODES
        );
        assert_eq!(
            codes(AgreementStatus::ALL, AgreementStatus::code),
            AgreementStatus::SCHEMA_CODES
        );
        assert_eq!(
            codes(ReferralKind::ALL, ReferralKind::code),
            ReferralKind::SCHEMA_CODES
        );
        assert_eq!(codes(TaskKind::ALL, TaskKind::code), TaskKind::SCHEMA_CODES);
    }

    #[test]
    fn codes_serialise_as_their_strings_and_have_chinese_names() {
        assert_eq!(
            serde_json::to_value(Category::LeftBehind).ok(),
            Some(serde_json::json!("left_behind"))
        );
        assert_eq!(
            Category::from_code("left_behind"),
            Some(Category::LeftBehind)
        );
        assert_eq!(Category::from_code("orphan"), None);
        assert_eq!(Category::LeftBehind.label_zh(), "农村留守儿童");
        for a in ChecklistArea::ALL {
            assert_ne!(a.label_zh(), a.code());
        }
        for c in DisabilityType::ALL
            .iter()
            .map(|d| d.code())
            .chain(SchoolStage::ALL.iter().map(|s| s.code()))
        {
            assert_ne!(crate::labels::code_label_zh(c), c);
        }
    }
}
