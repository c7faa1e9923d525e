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
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
        /// 男
        Male = "male",
        /// 女
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
        /// 较好
        Good = "good",
        /// 一般
        Fair = "fair",
        /// 差
        Poor = "poor",
    }
}

code_enum! {
    /// Whether a child is on the roster.
    ChildStatus = schema::CHILD_STATUS_CODES {
        /// 在册
        Active = "active",
        /// 已退出
        Exited = "exited",
    }
}

code_enum! {
    /// Why a child left the roster.
    ExitReason = schema::EXIT_REASON_CODES {
        /// 年满18周岁
        Turned18 = "turned_18",
        /// 迁出
        MovedAway = "moved_away",
        /// 父母返乡
        ParentReturned = "parent_returned",
        /// 死亡
        Died = "died",
        /// 被收养
        Adopted = "adopted",
        /// 不再符合条件
        NoLongerEligible = "no_longer_eligible",
        /// 其他
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
        /// 父亲
        Father = "father",
        /// 母亲
        Mother = "mother",
        /// 祖父母/外祖父母
        Grandparent = "grandparent",
        /// 受委托照护人 (the 乙方 of a care agreement).
        EntrustedCaregiver = "entrusted_caregiver",
        /// 其他监护人
        OtherGuardian = "other_guardian",
    }
}

code_enum! {
    /// Where a parent or guardian is, in the terms that decide a child's category.
    Whereabouts = schema::WHEREABOUTS_CODES {
        /// 在家
        AtHome = "at_home",
        /// 外出务工
        AwayWorking = "away_working",
        /// 重度残疾
        SeverelyDisabled = "severely_disabled",
        /// 重病
        SeriouslyIll = "seriously_ill",
        /// 服刑或被羁押
        Imprisoned = "imprisoned",
        /// 强制隔离戒毒
        DrugRehab = "drug_rehab",
        /// 被限制人身自由
        DeprivedOfLiberty = "deprived_of_liberty",
        /// 失联
        Missing = "missing",
        /// 被撤销监护资格
        GuardianshipRevoked = "guardianship_revoked",
        /// 被遣送出境
        Deported = "deported",
        /// 已故
        Deceased = "deceased",
    }
}

code_enum! {
    /// 走访方式.
    VisitMode = schema::VISIT_MODE_CODES {
        /// 入户走访
        Home = "home",
        /// 电话
        Phone = "phone",
        /// 微信视频
        WechatVideo = "wechat_video",
        /// 到学校
        School = "school",
    }
}

code_enum! {
    /// What the director did about the problems found on a visit.
    VisitAction = schema::VISIT_ACTION_CODES {
        /// 当场解决
        ResolvedOnSpot = "resolved_on_spot",
        /// 转介
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
        /// 草稿
        Draft = "draft",
        /// 已签署
        Signed = "signed",
        /// 已放弃
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
        /// 其他
        Other = "other",
    }
}

code_enum! {
    /// Work for a director.
    TaskKind = schema::TASK_KIND_CODES {
        /// A minor on the 低保 or disability list who is not on the roster.
        CheckListedMinor = "check_listed_minor",
        /// 首次走访
        FirstVisit = "first_visit",
        /// 寒假走访
        WinterVisit = "winter_visit",
        /// 其他
        Other = "other",
    }
}

code_enum! {
    /// How a director closed an active-discovery task.
    TaskOutcome = schema::TASK_OUTCOME_CODES {
        /// 已登记为新儿童: names the new child's file.
        Registered = "registered",
        /// 已关联已有儿童档案: names the child already on file.
        Linked = "linked",
        /// 不符合条件: with the reason.
        NotEligible = "not_eligible",
        /// 查无此人或已迁出: with a note.
        NotFoundOrMoved = "not_found_or_moved",
    }
}

code_enum! {
    /// What active discovery found when it matched a list against the roster (inside
    /// a task's `details`, see [`crate::discovery::Finding`]).
    FindingKind {
        /// 名单上的未成年人不在台账上: check at home whether the child is to be cared for.
        UnlistedMinor = "unlisted_minor",
        /// A parent or guardian on a roster child's file is on the list.
        GuardianListed = "guardian_listed",
        /// A roster child shares a household (户主身份证号 / 户编号) with a listed adult.
        HouseholdListed = "household_listed",
        /// A roster child's family is newly on the list (was not last month).
        JoinedList = "joined_list",
        /// A roster child's family was on last month's list and is not on this one.
        LeftList = "left_list",
    }
}

code_enum! {
    /// What the county confirms about a child's place in care (增员 / 变更 / 减员).
    ConfirmationKind {
        /// 增员: a child brought into care.
        Addition = "addition",
        /// 变更: the child's categories changed.
        Change = "change",
        /// 减员: the child left care (turned 18, moved, parent returned, died, …).
        Exit = "exit",
    }
}

code_enum! {
    /// 正常 / 关注 / 异常 for one checklist area of a visit.
    ItemStatus {
        /// 正常
        Normal = "normal",
        /// 关注
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
        /// 健康
        Healthy = "healthy",
        /// 残疾
        Disabled = "disabled",
        /// 患病
        Ill = "ill",
    }
}

code_enum! {
    /// The seven disability types of the 残疾人证.
    DisabilityType {
        /// 视力残疾
        Visual = "visual",
        /// 听力残疾
        Hearing = "hearing",
        /// 言语残疾
        Speech = "speech",
        /// 肢体残疾
        Physical = "physical",
        /// 智力残疾
        Intellectual = "intellectual",
        /// 精神残疾
        Mental = "mental",
        /// 多重残疾
        Multiple = "multiple",
    }
}

code_enum! {
    /// The school stage a child is at.
    SchoolStage {
        /// 未到入学年龄
        BelowSchoolAge = "below_school_age",
        /// 学前教育
        Preschool = "preschool",
        /// 小学
        Primary = "primary",
        /// 初中
        JuniorSecondary = "junior_secondary",
        /// 高中
        SeniorSecondary = "senior_secondary",
        /// 中职
        Vocational = "vocational",
        /// 特殊教育学校
        SpecialEducation = "special_education",
    }
}

code_enum! {
    /// Whether a child goes to school: 失学 and 辍学 are problems to refer.
    Enrolment {
        /// 在读
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
        /// 父亲
        Father = "father",
        /// 母亲
        Mother = "mother",
        /// 监护人
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
        assert_eq!(
            codes(TaskOutcome::ALL, TaskOutcome::code),
            TaskOutcome::SCHEMA_CODES
        );
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
