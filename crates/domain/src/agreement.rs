//! 委托照护协议: the care agreement a parent who goes away to work signs with the adult
//! who will care for the child (未成年人保护法 第二十二条、第二十三条), witnessed by the
//! village committee or the child director.
//!
//! A draft ([`AgreementDraft`]) is edited like any row. Signing freezes it into an
//! [`AgreementVersion`]: the [canonical text](canonical_text), rendered from the terms
//! deterministically (same terms, same bytes), and its SHA-256. Each [`Signature`] names
//! that hash, so a signature can never be moved onto other words. A signed version is
//! never edited; a change is a new version.

use crate::codes::{AgreementStatus, PrincipalRelation, Renewal, SignerRole};
use crate::error::DomainError;
use crate::guardian::{caregiver_not_adult, ADULT_AGE};
use crate::id_number::parse_id_number;
use crate::problems::Problems;
use crate::record::{
    self, age_on, check_phone, check_sha256_hex, not_in_future, required_text, timestamp_date,
    Fields, Void,
};
use crate::schema::{AGREEMENT_DRAFT, AGREEMENT_VERSION, SIGNATURE};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use uuid::Uuid;

/// 甲方: the parent or guardian who entrusts the child's care.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Principal {
    /// 甲's full name.
    pub name: String,
    /// Who 甲 is to the child (father, mother, guardian).
    pub relation: Option<PrincipalRelation>,
    /// 甲's 身份证号 (may be blank while drafting).
    pub id_number: String,
    /// 甲's phone number.
    pub phone: String,
    /// Where 甲 works while away (city, employer).
    pub work_location: String,
}

/// 乙方: the adult entrusted with the child's daily care.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Caregiver {
    /// 乙's full name.
    pub name: String,
    /// 乙's 身份证号; when given, it must show an adult.
    pub id_number: String,
    /// Relationship to the child (祖母, 舅舅, …).
    pub relationship: String,
    /// 乙's health, in a few words.
    pub health: String,
    /// Where 乙 and the child live.
    pub address: String,
    /// 乙's phone number.
    pub phone: String,
}

/// 见证方: the village committee and/or the child director.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Witness {
    /// The village (residents') committee that witnesses.
    pub village_committee: String,
    /// The child director who witnesses.
    pub child_director: String,
}

/// The child the agreement is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct AgreementChild {
    /// The child's name.
    pub name: String,
    /// The child's date of birth.
    pub birth_date: Option<NaiveDate>,
    /// The child's school and grade.
    pub school: String,
    /// Special needs (illness, disability, diet …), blank for none.
    pub special_needs: String,
}

/// Someone to call when neither 甲 nor 乙 can be reached.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct EmergencyContact {
    /// The contact's name.
    pub name: String,
    /// Who the contact is to the child.
    pub relationship: String,
    /// The contact's phone number.
    pub phone: String,
}

/// The terms of a care agreement: everything its text says (field `terms` of
/// `agreement_draft`). Every part may be blank while drafting; signing requires them
/// ([`AgreementTerms::validate_for_signing`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct AgreementTerms {
    /// 甲: the parent or guardian who entrusts.
    pub principal: Principal,
    /// 乙: the entrusted caregiver.
    pub caregiver: Caregiver,
    /// The witness.
    pub witness: Witness,
    /// The child cared for.
    pub child: AgreementChild,
    /// Why the child is entrusted (外出务工, …).
    pub reason: String,
    /// First day of the entrusted care.
    pub period_start: Option<NaiveDate>,
    /// Last day of the entrusted care.
    pub period_end: Option<NaiveDate>,
    /// What happens when the period ends.
    pub renewal: Renewal,
    /// People to call when 甲 and 乙 cannot be reached, in order.
    pub emergency_contacts: Vec<EmergencyContact>,
    /// Whether 乙 may consent to urgent medical treatment on 甲's behalf.
    pub medical_authority: bool,
    /// 甲 promises to contact the child at least once a week (Art. 23).
    pub weekly_contact_promise: bool,
    /// 乙 declares not being excluded by Art. 22 (abuse, violence, addiction, neglect).
    pub caregiver_declaration: bool,
    /// The child's own view, in the child's words or as the director heard it.
    pub child_view: String,
}

/// From this age a child's own view must be recorded before signing: a child of 8 can
/// express a view (限制民事行为能力人), which Art. 22 requires to be heard.
pub const CHILD_VIEW_AGE: i32 = 8;

fn term_error(
    code: &'static str,
    path: &str,
    zh: impl Into<String>,
    en: impl Into<String>,
) -> DomainError {
    DomainError::new(code, zh, en).on_field(format!("terms.{path}"))
}

fn require(path: &str, value: &str, what_zh: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(term_error(
            "required",
            path,
            format!("请填写{what_zh}"),
            format!("{path} is required before signing"),
        ));
    }
    Ok(())
}

fn phone_ok(path: &str, phone: &str, whose_zh: &str) -> Result<(), DomainError> {
    check_phone("phone", phone).map_err(|_| {
        term_error(
            "invalid_phone",
            path,
            format!(
                "{whose_zh}的电话号码格式不对：手机号为以1开头的11位数字，座机可写成“区号-号码”"
            ),
            format!("{path}: not a phone number"),
        )
    })
}

fn id_ok(
    path: &str,
    id: &str,
    whose_zh: &str,
    today: NaiveDate,
) -> Result<Option<crate::IdNumber>, DomainError> {
    if id.trim().is_empty() {
        return Ok(None);
    }
    parse_id_number(id, today).map(Some).map_err(|e| {
        term_error(
            e.code,
            path,
            format!("{whose_zh}的{}", e.zh),
            format!("{path}: {}", e.en),
        )
    })
}

impl AgreementTerms {
    /// Checks what has been entered so far, without asking for what is missing: phone
    /// numbers and ID numbers that are filled in must be valid. For drafts.
    pub fn validate_entered(&self, today: NaiveDate) -> Result<(), DomainError> {
        self.entered_problems(today).first_blocking()
    }

    /// Every problem of what has been entered so far ([`Self::validate_entered`]).
    pub fn entered_problems(&self, today: NaiveDate) -> Problems {
        let mut p = Problems::new();
        let phones = [
            ("principal.phone", &self.principal.phone, "甲方"),
            ("caregiver.phone", &self.caregiver.phone, "乙方"),
        ];
        for (path, phone, whose) in phones {
            if !phone.trim().is_empty() {
                p.check(phone_ok(path, phone, whose));
            }
        }
        for (i, c) in self.emergency_contacts.iter().enumerate() {
            if !c.phone.trim().is_empty() {
                p.check(phone_ok(
                    &format!("emergency_contacts.{i}.phone"),
                    &c.phone,
                    "紧急联系人",
                ));
            }
        }
        p.take(id_ok(
            "principal.id_number",
            &self.principal.id_number,
            "甲方",
            today,
        ));
        p.take(id_ok(
            "caregiver.id_number",
            &self.caregiver.id_number,
            "乙方",
            today,
        ));
        p
    }

    /// Checks that the agreement can be signed on `today`: every party present with a
    /// way to reach them, an adult caregiver who is not 甲, a period that ends after it
    /// starts and has not ended, at least one emergency contact, 甲's weekly-contact
    /// promise, 乙's Art. 22 declaration, and the view of a child aged 8 or more.
    pub fn validate_for_signing(&self, today: NaiveDate) -> Result<(), DomainError> {
        self.signing_problems(today).first_blocking()
    }

    /// Everything missing or wrong before the agreement can be signed, all at once
    /// (what [`Self::validate_for_signing`] refuses with the first of): the preview
    /// and the draft's check list them together, so the director fills them in one go.
    pub fn signing_problems(&self, today: NaiveDate) -> Problems {
        let mut out = self.entered_problems(today);
        let p = &self.principal;
        out.check(require("principal.name", &p.name, "甲方（委托人）姓名"));
        if p.relation.is_none() {
            out.block(term_error(
                "required",
                "principal.relation",
                "请选择甲方与儿童的关系（父亲、母亲或监护人）",
                "principal.relation is required before signing",
            ));
        }
        out.check(require("principal.phone", &p.phone, "甲方联系电话"));
        out.check(require(
            "principal.work_location",
            &p.work_location,
            "甲方务工地点",
        ));

        let c = &self.caregiver;
        out.check(require("caregiver.name", &c.name, "乙方（受托照护人）姓名"));
        out.check(require(
            "caregiver.relationship",
            &c.relationship,
            "乙方与儿童的关系",
        ));
        out.check(require("caregiver.health", &c.health, "乙方健康状况"));
        out.check(require("caregiver.address", &c.address, "乙方住址"));
        out.check(require("caregiver.phone", &c.phone, "乙方联系电话"));
        // The ID number's own problem is already listed (entered_problems).
        if let Ok(Some(id)) = id_ok("caregiver.id_number", &c.id_number, "乙方", today) {
            let age = age_on(id.birth_date, today);
            if age < ADULT_AGE {
                let e = caregiver_not_adult(age);
                out.block(term_error(e.code, "caregiver.id_number", e.zh, e.en));
            }
        }
        if !c.id_number.trim().is_empty() && c.id_number.trim() == p.id_number.trim() {
            out.block(term_error(
                "caregiver_is_principal",
                "caregiver.id_number",
                "乙方与甲方是同一人：受托照护人应是甲方以外的成年人",
                "the caregiver and the principal are the same person",
            ));
        }

        let w = &self.witness;
        if w.village_committee.trim().is_empty() && w.child_director.trim().is_empty() {
            out.block(term_error(
                "required",
                "witness",
                "请填写见证方：村（居）民委员会或儿童主任",
                "a witness (village committee or child director) is required",
            ));
        }

        let child = &self.child;
        out.check(require("child.name", &child.name, "儿童姓名"));
        match child.birth_date {
            None => out.block(term_error(
                "required",
                "child.birth_date",
                "请填写儿童出生日期",
                "child.birth_date is required before signing",
            )),
            Some(birth) => {
                out.check(
                    not_in_future("birth_date", birth, today)
                        .map_err(|e| term_error(e.code, "child.birth_date", e.zh, e.en)),
                );
            }
        }

        out.check(require("reason", &self.reason, "委托原因"));
        match (self.period_start, self.period_end) {
            (Some(start), Some(end)) => {
                if end <= start {
                    out.block(term_error(
                        "period_order",
                        "period_end",
                        format!("委托期限的结束日期（{end}）应晚于开始日期（{start}）"),
                        format!("the period ends ({end}) before it starts ({start})"),
                    ));
                } else if end < today {
                    out.block(term_error(
                        "period_over",
                        "period_end",
                        format!("委托期限已于{end}结束，不能再签署；请修改期限"),
                        format!("the period ended on {end}"),
                    ));
                }
            }
            _ => out.block(term_error(
                "required",
                "period",
                "请填写委托期限的起止日期",
                "the period's start and end are required before signing",
            )),
        }

        if self.emergency_contacts.is_empty() {
            out.block(term_error(
                "required",
                "emergency_contacts",
                "请至少填写一位紧急联系人",
                "at least one emergency contact is required",
            ));
        }
        for (i, ec) in self.emergency_contacts.iter().enumerate() {
            out.check(require(
                &format!("emergency_contacts.{i}.name"),
                &ec.name,
                "紧急联系人姓名",
            ));
            out.check(require(
                &format!("emergency_contacts.{i}.phone"),
                &ec.phone,
                "紧急联系人电话",
            ));
        }

        if !self.weekly_contact_promise {
            out.block(term_error(
                "weekly_contact_required",
                "weekly_contact_promise",
                "甲方须承诺每周至少与儿童联系一次（未成年人保护法第二十三条）",
                "the principal must promise at least weekly contact (Art. 23)",
            ));
        }
        if !self.caregiver_declaration {
            out.block(term_error(
                "declaration_required",
                "caregiver_declaration",
                "乙方须声明没有未成年人保护法第二十二条规定的不得作为被委托人的情形",
                "the caregiver must declare not being excluded by Art. 22",
            ));
        }
        if let Some(birth) = child.birth_date {
            let age = age_on(birth, today);
            if age >= CHILD_VIEW_AGE && self.child_view.trim().is_empty() {
                out.block(term_error(
                    "child_view_required",
                    "child_view",
                    format!(
                        "儿童已{age}岁，请听取并记录儿童本人的意见（未成年人保护法第二十二条）"
                    ),
                    format!("the child is {age}: record the child's own view (Art. 22)"),
                ));
            }
        }
        out
    }
}

/// A person's text as it appears in the agreement: whitespace runs (including
/// full-width spaces and line breaks) become one space, control characters go, and
/// blank becomes 无.
fn clean(s: &str) -> String {
    let joined = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>();
    if joined.is_empty() {
        "无".into()
    } else {
        joined
    }
}

/// [`clean`] text that the template ends with its own full stop.
fn sentence(s: &str) -> String {
    let cleaned = clean(s);
    let trimmed = cleaned.trim_end_matches(['。', '.', '；', ';', '，', ',', ' ']);
    if trimmed.is_empty() {
        "无".into()
    } else {
        trimmed.to_string()
    }
}

fn zh_date(d: Option<NaiveDate>) -> String {
    match d {
        Some(d) => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
        None => "____年__月__日".into(),
    }
}

/// The full agreement in plain zh-CN, ready to read aloud, print and sign.
///
/// Deterministic: the same terms and version give the same bytes (fixed clause order,
/// normalised whitespace, `\n` line ends, a final `\n`), so its [`text_sha256`] is
/// stable across devices and builds. Changing the wording here changes the hash of
/// agreements signed afterwards only; signed versions keep their stored text.
pub fn canonical_text(terms: &AgreementTerms, version: u32) -> String {
    let p = &terms.principal;
    let c = &terms.caregiver;
    let w = &terms.witness;
    let ch = &terms.child;
    let relation = p.relation.map(|r| r.label_zh()).unwrap_or("监护人");
    let mut t = String::new();
    let mut line = |s: &str| {
        t.push_str(s);
        t.push('\n');
    };

    line("农村留守儿童委托照护协议");
    line(&format!("（第{version}版）"));
    line("");
    line("依据《中华人民共和国未成年人保护法》第二十二条、第二十三条，甲方因外出务工等原因在一定期限内不能完全履行监护职责，委托乙方照护下列儿童。甲乙双方经协商一致，在见证方见证下订立本协议。");
    line("");
    line("一、协议各方");
    line(&format!(
        "甲方（委托人）：{}，系儿童的{relation}，身份证号：{}，联系电话：{}，务工地点：{}。",
        clean(&p.name),
        clean(&p.id_number),
        clean(&p.phone),
        clean(&p.work_location)
    ));
    line(&format!(
        "乙方（受托照护人）：{}，身份证号：{}，与儿童关系：{}，健康状况：{}，住址：{}，联系电话：{}。",
        clean(&c.name),
        clean(&c.id_number),
        clean(&c.relationship),
        clean(&c.health),
        clean(&c.address),
        clean(&c.phone)
    ));
    line(&format!(
        "见证方：村（居）民委员会：{}；儿童主任：{}。",
        clean(&w.village_committee),
        clean(&w.child_director)
    ));
    line("");
    line("二、被照护儿童");
    line(&format!(
        "姓名：{}，出生日期：{}，就读学校：{}，特殊需要：{}。",
        clean(&ch.name),
        zh_date(ch.birth_date),
        clean(&ch.school),
        clean(&ch.special_needs)
    ));
    line("");
    line("三、委托原因和期限");
    line(&format!("委托原因：{}。", sentence(&terms.reason)));
    line(&format!(
        "委托期限：自{}起至{}止。",
        zh_date(terms.period_start),
        zh_date(terms.period_end)
    ));
    line(match terms.renewal {
        Renewal::NewAgreement => "期限届满需要继续委托的，应当重新签订协议。",
        Renewal::Automatic => {
            "期限届满前任何一方未提出异议的，本协议自动续期一年；续期期间各方权利义务不变。"
        }
    });
    line("");
    line("四、监护责任");
    line(
        "委托照护期间，甲方仍是儿童的监护人，监护职责不因本协议而转移。乙方在委托范围内照护儿童。",
    );
    line("");
    line("五、乙方的照护义务");
    line("（一）照顾儿童的日常生活，保障饮食、穿衣、住宿和个人卫生；");
    line("（二）保护儿童安全：做好防溺水、交通安全和用火、用电、用气安全的教育和看护，不让儿童独自或结伴到河流、水塘、水库等危险水域；");
    line("（三）保障儿童按时入学、到校，关心儿童学习，与学校保持联系，防止儿童失学、辍学；");
    line("（四）儿童生病或受伤时及时送医治疗，并立即告知甲方；");
    line("（五）关心儿童的情绪和心理，多陪伴、多交流，不打骂、不歧视、不虐待；");
    line("（六）发现儿童遭受或者可能遭受侵害、出现异常情况时，立即告知甲方和村（居）民委员会或儿童主任；情况紧急的，立即报警；");
    line(
        "（七）不得让不满八周岁的儿童处于无人看护状态，不得让不满十六周岁的儿童脱离监护单独生活。",
    );
    line("");
    line("六、甲方的义务");
    line("（一）承担儿童的生活、教育、医疗等费用，并按时交付乙方；");
    line("（二）每周至少与儿童联系一次（电话或视频），了解儿童的生活、学习和心理状况；");
    line("（三）尽可能定期回家探望儿童；");
    line("（四）将委托照护情况书面告知儿童就读的学校和所在村（居）民委员会；");
    line("（五）联系方式或务工地点变化时，及时告知乙方、学校和村（居）民委员会。");
    line("");
    line("七、紧急联系人和就医授权");
    if terms.emergency_contacts.is_empty() {
        line("紧急联系人：无。");
    } else {
        line("紧急联系人：");
        for (i, ec) in terms.emergency_contacts.iter().enumerate() {
            let rel = if ec.relationship.trim().is_empty() {
                String::new()
            } else {
                format!("（{}）", clean(&ec.relationship))
            };
            line(&format!(
                "{}. {}{rel}，电话：{}。",
                i + 1,
                clean(&ec.name),
                clean(&ec.phone)
            ));
        }
    }
    line(if terms.medical_authority {
        "就医授权：儿童需要紧急救治而甲方一时联系不上时，甲方授权乙方代为签署必要的医疗文书；乙方应尽快告知甲方。"
    } else {
        "就医授权：儿童需要就医时，乙方应及时送医并联系甲方，由甲方决定治疗方案；危及生命时，乙方应先行送医救治。"
    });
    line("");
    line("八、乙方声明");
    line(if terms.caregiver_declaration {
        "乙方声明：本人为成年人，具有照护儿童的能力；本人没有《中华人民共和国未成年人保护法》第二十二条规定的不得作为被委托人的情形，即没有曾实施性侵害、虐待、遗弃、拐卖、暴力伤害等违法犯罪行为，没有吸毒、酗酒、赌博等恶习，没有曾拒不履行或者长期怠于履行监护、照护职责的情形。"
    } else {
        "乙方声明：（未作出）"
    });
    line("");
    line("九、儿童的意见");
    line(&format!(
        "儿童本人的意见：{}。",
        sentence(&terms.child_view)
    ));
    line("");
    line("十、协议的变更和终止");
    line("本协议内容需要变更的，应当签订新版本协议。有下列情形之一的，本协议终止：（一）甲方返回，能够亲自照护儿童的；（二）委托期限届满且未续期的；（三）乙方因身体等原因不能继续照护，或者出现不宜照护儿童情形的；（四）甲乙双方协商一致解除的。协议终止前，甲方应当妥善安排儿童的照护，不得让儿童无人照护。");
    line("");
    line("十一、其他");
    line("本协议一式三份，甲方、乙方、村（居）民委员会各执一份，自各方签字（按手印）之日起生效。");
    line("");
    line("甲方（签字、按手印）：");
    line("乙方（签字、按手印）：");
    line("见证方（签字或盖章）：");
    t
}

/// The SHA-256 of an agreement text (its UTF-8 bytes), as 64 lowercase hex characters.
pub fn text_sha256(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Refuses edits to a draft that is no longer a draft: a signed agreement is an
/// immutable legal record (`agreement_signed`); an abandoned one is closed
/// (`agreement_abandoned`). Call before writing any change to a draft's terms.
pub fn ensure_draft_editable(status: AgreementStatus) -> Result<(), DomainError> {
    match status {
        AgreementStatus::Draft => Ok(()),
        AgreementStatus::Signed => Err(DomainError::new(
            "agreement_signed",
            "协议已签署，不能修改；如需变更请起草新版本",
            "the agreement is signed and cannot be changed; draft a new version instead",
        )
        .on_field("terms")),
        AgreementStatus::Abandoned => Err(DomainError::new(
            "agreement_abandoned",
            "协议草稿已放弃，不能修改；如需要请重新起草",
            "the draft was abandoned and cannot be changed; start a new draft",
        )
        .on_field("terms")),
    }
}

/// A care agreement while it is drafted (table `agreement_draft`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AgreementDraft {
    /// The child the agreement is for.
    pub child_id: Uuid,
    /// The terms as drafted so far.
    pub terms: AgreementTerms,
    /// Draft, signed (frozen into a version) or abandoned.
    pub status: AgreementStatus,
    #[serde(default)]
    /// Soft delete; the record and its history stay.
    pub deleted: bool,
}

impl AgreementDraft {
    /// The draft's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&AGREEMENT_DRAFT, self)
    }

    /// Reads a draft from a row's fields (schema and terms shape checks only).
    pub fn from_fields(fields: &Fields) -> Result<AgreementDraft, DomainError> {
        record::from_fields(&AGREEMENT_DRAFT, fields, |f| {
            record::json_field::<AgreementTerms>(f, "terms").map(|_| ())
        })
    }

    /// Checks the draft before it is saved: schema types (the terms fit their size
    /// limit) and the values entered so far ([`AgreementTerms::validate_entered`]).
    /// Completeness is checked only when signing.
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        record::check_schema(&AGREEMENT_DRAFT, &self.to_fields())?;
        self.check_rules(today)
    }

    /// The rules beyond the schema's field types: what [`Self::validate`] checks after
    /// the schema. For a record read with `from_fields`, whose fields were just
    /// type-checked, this is all that is left to check.
    pub fn check_rules(&self, today: NaiveDate) -> Result<(), DomainError> {
        self.terms.validate_entered(today)
    }
}

/// A signed care agreement version (table `agreement_version`): the frozen text and
/// its hash. Written once; voided with a reason, never edited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AgreementVersion {
    /// The child the agreement is for.
    pub child_id: Uuid,
    /// The draft this version was sealed from.
    pub draft_id: Uuid,
    /// 1 for the first agreement of a draft, then 2, 3, … for amendments.
    pub version: u32,
    /// The full agreement text the parties read and signed.
    pub canonical_text: String,
    /// [`text_sha256`] of `canonical_text`; what every signature names.
    pub text_sha256: String,
    /// First day of the entrusted care.
    pub valid_from: NaiveDate,
    /// Last day of the entrusted care.
    pub valid_until: NaiveDate,
    /// When it was signed, as the device wrote it (RFC 3339, local offset).
    pub signed_at: String,
    /// Set when the version is voided, with the reason.
    pub voided: Option<Void>,
}

impl AgreementVersion {
    /// Freezes `terms` into version `version` of the draft `draft_id`: checks them
    /// ([`AgreementTerms::validate_for_signing`]), renders the canonical text and
    /// hashes it. The caller then collects the signatures on that hash.
    pub fn seal(
        child_id: Uuid,
        draft_id: Uuid,
        version: u32,
        terms: &AgreementTerms,
        signed_at: &str,
        today: NaiveDate,
    ) -> Result<AgreementVersion, DomainError> {
        terms.validate_for_signing(today)?;
        let (Some(valid_from), Some(valid_until)) = (terms.period_start, terms.period_end) else {
            // validate_for_signing already refused a missing period.
            return Err(term_error(
                "required",
                "period",
                "请填写委托期限的起止日期",
                "the period is required",
            ));
        };
        let canonical_text = canonical_text(terms, version);
        let sealed = AgreementVersion {
            child_id,
            draft_id,
            version,
            text_sha256: text_sha256(&canonical_text),
            canonical_text,
            valid_from,
            valid_until,
            signed_at: signed_at.to_string(),
            voided: None,
        };
        sealed.validate(today)?;
        Ok(sealed)
    }

    /// The version's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&AGREEMENT_VERSION, self)
    }

    /// Reads a version from a row's fields (schema checks only).
    pub fn from_fields(fields: &Fields) -> Result<AgreementVersion, DomainError> {
        record::from_fields(&AGREEMENT_VERSION, fields, |f| {
            record::json_field::<Void>(f, "voided").map(|_| ())
        })
    }

    /// Checks the version: schema types, the hash is the hash of the text, the period
    /// is in order, the signing time is not in the future.
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        record::check_schema(&AGREEMENT_VERSION, &self.to_fields())?;
        self.check_rules(today)
    }

    /// The rules beyond the schema's field types: what [`Self::validate`] checks after
    /// the schema. For a record read with `from_fields`, whose fields were just
    /// type-checked, this is all that is left to check.
    pub fn check_rules(&self, today: NaiveDate) -> Result<(), DomainError> {
        if text_sha256(&self.canonical_text) != self.text_sha256 {
            return Err(DomainError::new(
                "text_hash_mismatch",
                "协议全文与其指纹不符，协议内容可能被改动过",
                "the agreement text does not match its SHA-256",
            )
            .on_field("text_sha256"));
        }
        if self.valid_until <= self.valid_from {
            return Err(DomainError::new(
                "period_order",
                format!(
                    "到期日期（{}）应晚于生效日期（{}）",
                    self.valid_until, self.valid_from
                ),
                "valid_until must be after valid_from",
            )
            .on_field("valid_until"));
        }
        not_in_future(
            "signed_at",
            timestamp_date("signed_at", &self.signed_at)?,
            today,
        )?;
        if let Some(void) = &self.voided {
            void.validate()?;
        }
        Ok(())
    }
}

/// One signature on one agreement version (table `signature`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Signature {
    /// The child the agreement is for.
    pub child_id: Uuid,
    /// The agreement version row signed.
    pub agreement_version_id: Uuid,
    /// Who signed: 甲, 乙 or the witness.
    pub signer_role: SignerRole,
    /// The signer's name as written by the signer or the director.
    pub signer_name: String,
    /// The hash of the text signed: must equal the version's `text_sha256`.
    pub text_sha256: String,
    /// SHA-256 of the signature image blob.
    pub image_sha256: String,
    /// The pen strokes, as captured (kept with the image).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub strokes: Option<serde_json::Value>,
    /// When it was signed, as the device wrote it (RFC 3339, local offset).
    pub signed_at: String,
    /// Set when the signature is voided, with the reason.
    pub voided: Option<Void>,
}

impl Signature {
    /// The signature's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&SIGNATURE, self)
    }

    /// Reads a signature from a row's fields (schema checks only).
    pub fn from_fields(fields: &Fields) -> Result<Signature, DomainError> {
        record::from_fields(&SIGNATURE, fields, |f| {
            record::json_field::<Void>(f, "voided").map(|_| ())
        })
    }

    /// Checks the signature on its own: schema types, a signer name, well-formed
    /// hashes, a signing time not in the future. Whether it is bound to its version is
    /// [`ensure_signature_bound`].
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        record::check_schema(&SIGNATURE, &self.to_fields())?;
        self.check_rules(today)
    }

    /// The rules beyond the schema's field types: what [`Self::validate`] checks after
    /// the schema. For a record read with `from_fields`, whose fields were just
    /// type-checked, this is all that is left to check.
    pub fn check_rules(&self, today: NaiveDate) -> Result<(), DomainError> {
        required_text("signer_name", &self.signer_name)?;
        check_sha256_hex("text_sha256", &self.text_sha256)?;
        check_sha256_hex("image_sha256", &self.image_sha256)?;
        not_in_future(
            "signed_at",
            timestamp_date("signed_at", &self.signed_at)?,
            today,
        )?;
        if let Some(void) = &self.voided {
            void.validate()?;
        }
        Ok(())
    }
}

/// Checks that `signature` signs exactly the version `version` (row id `version_id`):
/// the same child, the same version row, and the same text hash, which is the hash of
/// the version's text. Anything else is `signature_not_bound` (or `text_hash_mismatch`
/// when the version's own text was altered).
pub fn ensure_signature_bound(
    signature: &Signature,
    version_id: Uuid,
    version: &AgreementVersion,
) -> Result<(), DomainError> {
    if text_sha256(&version.canonical_text) != version.text_sha256 {
        return Err(DomainError::new(
            "text_hash_mismatch",
            "协议全文与其指纹不符，协议内容可能被改动过",
            "the agreement text does not match its SHA-256",
        )
        .on_field("text_sha256"));
    }
    let bound = signature.text_sha256 == version.text_sha256
        && signature.agreement_version_id == version_id
        && signature.child_id == version.child_id;
    if !bound {
        return Err(DomainError::new(
            "signature_not_bound",
            "这个签名不是签在这份协议上的（协议内容不一致），不能作为本协议的签名",
            "the signature does not sign this agreement version's text",
        )
        .on_field("text_sha256"));
    }
    Ok(())
}

/// The signer roles (甲, 乙, 见证方) still missing a valid, bound, not voided signature
/// on `version`. Empty when the agreement is fully signed.
pub fn missing_signers(
    version_id: Uuid,
    version: &AgreementVersion,
    signatures: &[Signature],
) -> Vec<SignerRole> {
    SignerRole::ALL
        .iter()
        .copied()
        .filter(|role| {
            !signatures.iter().any(|s| {
                s.signer_role == *role
                    && s.voided.is_none()
                    && ensure_signature_bound(s, version_id, version).is_ok()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::tests::{d, today};
    use serde_json::json;

    fn terms() -> AgreementTerms {
        AgreementTerms {
            principal: Principal {
                name: "王建国".into(),
                relation: Some(PrincipalRelation::Father),
                id_number: "370611198803150515".into(),
                phone: "13912345678".into(),
                work_location: "上海市浦东新区某建筑工地".into(),
            },
            caregiver: Caregiver {
                name: "王德福".into(),
                id_number: "370602198001010012".into(),
                relationship: "叔叔".into(),
                health: "健康".into(),
                address: "芝罘区幸福街道某村12号".into(),
                phone: "13812345678".into(),
            },
            witness: Witness {
                village_committee: "某村村民委员会".into(),
                child_director: "刘芳".into(),
            },
            child: AgreementChild {
                name: "王小明".into(),
                birth_date: Some(d("2015-01-01")),
                school: "幸福小学五年级".into(),
                special_needs: "".into(),
            },
            reason: "父母外出务工".into(),
            period_start: Some(d("2026-06-01")),
            period_end: Some(d("2027-05-31")),
            renewal: Renewal::NewAgreement,
            emergency_contacts: vec![EmergencyContact {
                name: "李秀英".into(),
                relationship: "母亲".into(),
                phone: "13712345678".into(),
            }],
            medical_authority: true,
            weekly_contact_promise: true,
            caregiver_declaration: true,
            child_view: "愿意和叔叔一起生活".into(),
        }
    }

    fn code_of(t: &AgreementTerms) -> Option<&'static str> {
        t.validate_for_signing(today()).err().map(|e| e.code)
    }

    #[test]
    fn complete_terms_can_be_signed() {
        assert_eq!(terms().validate_for_signing(today()), Ok(()));
    }

    #[test]
    fn the_caregiver_must_be_an_adult_by_the_id_number() {
        let mut t = terms();
        t.caregiver.id_number = "370687201006070020".into(); // 15 years old
        let e = t.validate_for_signing(today()).unwrap_err();
        assert_eq!(e.code, "caregiver_not_adult");
        assert_eq!(e.field.as_deref(), Some("terms.caregiver.id_number"));
    }

    #[test]
    fn the_caregiver_cannot_be_the_principal() {
        let mut t = terms();
        t.caregiver.id_number = t.principal.id_number.clone();
        assert_eq!(code_of(&t), Some("caregiver_is_principal"));
    }

    #[test]
    fn the_period_must_end_after_it_starts_and_not_be_over() {
        let mut t = terms();
        t.period_end = t.period_start;
        assert_eq!(code_of(&t), Some("period_order"));
        t.period_start = Some(d("2025-01-01"));
        t.period_end = Some(d("2025-12-31"));
        assert_eq!(code_of(&t), Some("period_over"));
    }

    #[test]
    fn the_declaration_and_the_weekly_contact_promise_are_required() {
        let mut t = terms();
        t.caregiver_declaration = false;
        let e = t.validate_for_signing(today()).unwrap_err();
        assert_eq!(e.code, "declaration_required");
        assert!(e.zh.contains("第二十二条"));
        let mut t = terms();
        t.weekly_contact_promise = false;
        assert_eq!(code_of(&t), Some("weekly_contact_required"));
    }

    #[test]
    fn required_parties_must_be_present() {
        let mut t = terms();
        t.caregiver.name = "  ".into();
        let e = t.validate_for_signing(today()).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("required", Some("terms.caregiver.name"))
        );
        let mut t = terms();
        t.witness = Witness::default();
        assert_eq!(code_of(&t), Some("required"));
        let mut t = terms();
        t.emergency_contacts.clear();
        assert_eq!(code_of(&t), Some("required"));
        let mut t = terms();
        t.principal.phone = "12345".into();
        assert_eq!(code_of(&t), Some("invalid_phone"));
    }

    #[test]
    fn a_child_of_eight_or_more_is_heard() {
        let mut t = terms();
        t.child_view = "".into();
        assert_eq!(code_of(&t), Some("child_view_required"));
        t.child.birth_date = Some(d("2019-01-01")); // 7 years old
        assert_eq!(t.validate_for_signing(today()), Ok(()));
    }

    #[test]
    fn the_text_cites_the_law_and_the_duties() {
        let text = canonical_text(&terms(), 1);
        for needed in [
            "第二十二条",
            "第二十三条",
            "防溺水",
            "交通安全",
            "入学",
            "送医",
            "情绪和心理",
            "立即告知",
            "每周至少与儿童联系一次",
            "书面告知",
            "不满八周岁",
            "不满十六周岁",
            "监护职责不因本协议而转移",
            "一式三份",
            "370611198803150515",
            "2026年6月1日",
        ] {
            assert!(text.contains(needed), "missing {needed}");
        }
        assert!(!text.contains('\r'));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn equal_terms_give_the_same_bytes_and_hash_whatever_the_spacing() {
        let a = terms();
        let mut b = terms();
        b.caregiver.name = " 王德福\u{3000}".into();
        b.reason = "父母外出务工。\r\n".into();
        assert_eq!(canonical_text(&a, 1), canonical_text(&b, 1));
        assert_eq!(
            text_sha256(&canonical_text(&a, 1)),
            text_sha256(&canonical_text(&b, 1))
        );
        // A round trip through the draft's JSON changes nothing.
        let back: AgreementTerms =
            serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(canonical_text(&back, 1), canonical_text(&a, 1));
    }

    #[test]
    fn the_text_of_these_terms_is_pinned() {
        // Changing the template changes this hash: do it on purpose only. Versions
        // already signed keep their stored text and hash.
        assert_eq!(
            text_sha256(&canonical_text(&terms(), 1)),
            "6166adb6163279264c154fdc7292555fa8fda7e0735e52d6a31af49b94a5358c"
        );
    }

    #[test]
    fn a_changed_clause_or_version_changes_the_hash() {
        let base = text_sha256(&canonical_text(&terms(), 1));
        let mut t = terms();
        t.medical_authority = false;
        assert_ne!(text_sha256(&canonical_text(&t, 1)), base);
        let mut t = terms();
        t.period_end = Some(d("2027-06-30"));
        assert_ne!(text_sha256(&canonical_text(&t, 1)), base);
        assert_ne!(text_sha256(&canonical_text(&terms(), 2)), base);
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            text_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_signed_agreement_cannot_be_edited() {
        assert_eq!(ensure_draft_editable(AgreementStatus::Draft), Ok(()));
        let e = ensure_draft_editable(AgreementStatus::Signed).unwrap_err();
        assert_eq!(e.code, "agreement_signed");
        assert_eq!(e.zh, "协议已签署，不能修改；如需变更请起草新版本");
        assert_eq!(
            ensure_draft_editable(AgreementStatus::Abandoned)
                .unwrap_err()
                .code,
            "agreement_abandoned"
        );
    }

    fn signed() -> (Uuid, AgreementVersion, Vec<Signature>) {
        let version_id = Uuid::now_v7();
        let v = AgreementVersion::seal(
            Uuid::now_v7(),
            Uuid::now_v7(),
            1,
            &terms(),
            "2026-05-20T10:00:00+08:00",
            today(),
        )
        .unwrap();
        let sigs = SignerRole::ALL
            .iter()
            .map(|role| Signature {
                child_id: v.child_id,
                agreement_version_id: version_id,
                signer_role: *role,
                signer_name: "某人".into(),
                text_sha256: v.text_sha256.clone(),
                image_sha256: "ef".repeat(32),
                strokes: None,
                signed_at: "2026-05-20T10:05:00+08:00".into(),
                voided: None,
            })
            .collect();
        (version_id, v, sigs)
    }

    #[test]
    fn sealing_freezes_the_text_and_its_hash() {
        let (_, v, sigs) = signed();
        assert_eq!(v.text_sha256, text_sha256(&v.canonical_text));
        assert_eq!(
            (v.valid_from, v.valid_until),
            (d("2026-06-01"), d("2027-05-31"))
        );
        assert_eq!(v.validate(today()), Ok(()));
        assert_eq!(AgreementVersion::from_fields(&v.to_fields()), Ok(v));
        for s in sigs {
            assert_eq!(s.validate(today()), Ok(()));
            assert_eq!(Signature::from_fields(&s.to_fields()), Ok(s));
        }
    }

    #[test]
    fn an_incomplete_agreement_cannot_be_sealed() {
        let mut t = terms();
        t.caregiver_declaration = false;
        let r = AgreementVersion::seal(
            Uuid::now_v7(),
            Uuid::now_v7(),
            1,
            &t,
            "2026-05-20T10:00:00+08:00",
            today(),
        );
        assert_eq!(r.unwrap_err().code, "declaration_required");
    }

    #[test]
    fn a_signature_is_bound_to_the_text_it_signed() {
        let (id, v, sigs) = signed();
        assert_eq!(ensure_signature_bound(&sigs[0], id, &v), Ok(()));
        assert_eq!(missing_signers(id, &v, &sigs), vec![]);

        // Signed on other words.
        let mut other = sigs[1].clone();
        other.text_sha256 = text_sha256("另一份协议");
        assert_eq!(
            ensure_signature_bound(&other, id, &v).unwrap_err().code,
            "signature_not_bound"
        );
        assert_eq!(
            missing_signers(id, &v, &[sigs[0].clone(), other, sigs[2].clone()]),
            vec![SignerRole::Caregiver]
        );
        // On another version row.
        assert_eq!(
            ensure_signature_bound(&sigs[0], Uuid::now_v7(), &v)
                .unwrap_err()
                .code,
            "signature_not_bound"
        );
        // The version's text altered after signing.
        let mut altered = v.clone();
        altered.canonical_text.push_str("补充条款\n");
        assert_eq!(
            ensure_signature_bound(&sigs[0], id, &altered)
                .unwrap_err()
                .code,
            "text_hash_mismatch"
        );
        assert_eq!(
            altered.validate(today()).unwrap_err().code,
            "text_hash_mismatch"
        );
    }

    #[test]
    fn a_voided_signature_does_not_count() {
        let (id, v, mut sigs) = signed();
        sigs[2].voided = Some(Void {
            reason: "签错人".into(),
            by: "刘芳".into(),
        });
        assert_eq!(missing_signers(id, &v, &sigs), vec![SignerRole::Witness]);
    }

    #[test]
    fn a_partial_draft_is_saved_and_round_trips() {
        let draft = AgreementDraft {
            child_id: Uuid::now_v7(),
            terms: AgreementTerms {
                reason: "外出务工".into(),
                ..AgreementTerms::default()
            },
            status: AgreementStatus::Draft,
            deleted: false,
        };
        assert_eq!(draft.validate(today()), Ok(()));
        assert_eq!(
            AgreementDraft::from_fields(&draft.to_fields()),
            Ok(draft.clone())
        );
        let mut bad = draft;
        bad.terms.caregiver.phone = "123".into();
        assert_eq!(bad.validate(today()).unwrap_err().code, "invalid_phone");
    }

    #[test]
    fn a_draft_with_malformed_terms_names_the_field() {
        let mut f = AgreementDraft {
            child_id: Uuid::now_v7(),
            terms: AgreementTerms::default(),
            status: AgreementStatus::Draft,
            deleted: false,
        }
        .to_fields();
        f.insert("terms".into(), json!({"period_start": "soon"}));
        let e = AgreementDraft::from_fields(&f).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("terms"));
    }
}
