//! Chinese labels for tables, fields, codes and schema problems: the words a child
//! director reads in every message. One place, so a screen and an error never name the
//! same thing two ways.

/// The Chinese name of a field, for messages. Unknown names are returned as they are.
///
/// Covers every field of every table in [`crate::schema`] (a test keeps it so). A few
/// names are shared by several tables (`status`, `kind`, `health`) and read the same
/// in all of them.
pub fn field_label_zh(field: &str) -> &str {
    match field {
        // child
        "name" => "姓名",
        "sex" => "性别",
        "ethnicity" => "民族",
        "birth_date" => "出生日期",
        "id_number" => "身份证号",
        "household_registered" => "是否有户籍",
        "registered_address" => "户籍地址",
        "current_address" => "现住址",
        "village_code" => "所在村居",
        "health" => "健康状况",
        "school" => "就学情况",
        "categories" => "儿童类别",
        "guardianship_rating" => "监护情况评价",
        "risk_colour" => "风险等级",
        "assistance" => "享受的救助",
        "status" => "状态",
        "exit_reason" => "退出原因",
        "exit_date" => "退出日期",
        "added_on" => "纳入日期",
        "notes" => "备注",
        "deleted" => "删除标记",
        // guardian
        "child_id" => "所属儿童",
        "role" => "身份",
        "relationship" => "与儿童关系",
        "phone" => "联系电话",
        "whereabouts" => "现状去向",
        "work_location" => "务工地点",
        "address" => "住址",
        // visit
        "visited_at" => "走访时间",
        "mode" => "走访方式",
        "people_present" => "在场人员",
        "visitor" => "走访人",
        "gps" => "定位",
        "checklist" => "走访检查项",
        "emergency" => "紧急情况",
        "problems" => "发现的问题",
        "actions" => "处置措施",
        "next_due_on" => "下次走访日期",
        "narrative" => "走访情况",
        "voided" => "作废",
        // photo
        "visit_id" => "所属走访",
        "blob_sha256" => "照片文件",
        "thumb_sha256" => "缩略图文件",
        "width" => "宽度",
        "height" => "高度",
        "bytes" => "文件大小",
        "taken_at" => "拍摄时间",
        // agreements and signatures
        "terms" => "协议条款",
        "draft_id" => "所属协议草稿",
        "version" => "版本号",
        "canonical_text" => "协议全文",
        "text_sha256" => "协议指纹",
        "valid_from" => "生效日期",
        "valid_until" => "到期日期",
        "signed_at" => "签署时间",
        "agreement_version_id" => "所签协议版本",
        "signer_role" => "签署人身份",
        "signer_name" => "签署人姓名",
        "image_sha256" => "签名图像",
        "strokes" => "签名笔迹",
        "notice_version" => "告知书版本",
        "notice_sha256" => "告知书指纹",
        // referral
        "kind" => "类别",
        "receiving_body" => "接收单位",
        "referred_on" => "转介日期",
        "feedback_due_on" => "反馈期限",
        "outcome" => "处理结果",
        "closed_on" => "办结日期",
        // task
        "title" => "标题",
        "details" => "详情",
        "due_on" => "截止日期",
        "done_on" => "完成日期",
        "outcome_note" => "核查说明",
        "outcome_child_id" => "对应的儿童档案",
        // county_decision
        "confirmed" => "县级确认",
        "sent_back" => "县级退回",
        other => other,
    }
}

/// The Chinese name of a synced table (a kind of record), for messages.
pub fn table_label_zh(table: &str) -> &str {
    match table {
        "child" => "儿童档案",
        "guardian" => "监护人和照护人",
        "visit" => "走访记录",
        "photo" => "照片",
        "agreement_draft" => "委托照护协议草稿",
        "agreement_version" => "已签署的委托照护协议",
        "signature" => "签名",
        "referral" => "转介",
        "task" => "任务",
        "consent" => "登记告知签名",
        "county_decision" => "县级确认",
        other => other,
    }
}

/// The English name of a synced table.
pub fn table_label_en(table: &str) -> &str {
    match table {
        "child" => "child's file",
        "guardian" => "guardian or caregiver",
        "visit" => "visit",
        "photo" => "photo",
        "agreement_draft" => "care agreement draft",
        "agreement_version" => "signed care agreement",
        "signature" => "signature",
        "referral" => "referral",
        "task" => "task",
        "consent" => "signed registration notice",
        "county_decision" => "county confirmation",
        other => other,
    }
}

/// The English name of a field, for messages (the schema's name with spaces).
pub fn field_label_en(field: &str) -> String {
    match field {
        "village_code" => "village".into(),
        "id_number" => "ID number".into(),
        "risk_colour" => "risk colour".into(),
        "blob_sha256" | "thumb_sha256" | "image_sha256" => "image".into(),
        "text_sha256" => "agreement fingerprint".into(),
        other => other.replace('_', " "),
    }
}

/// The Chinese name of a code from one of the schema's code lists (a category, a risk
/// colour, a visit mode, …). Codes mean the same in every list they appear in (`other`
/// is always 其他). Unknown codes are returned as they are.
pub fn code_label_zh(code: &str) -> &str {
    match code {
        // categories
        "institution_orphan" => "机构养育孤儿",
        "community_orphan" => "社会散居孤儿",
        "de_facto_unsupported" => "事实无人抚养儿童",
        "key_difficulty" => "重点困境儿童",
        "difficulty" => "困境儿童",
        "left_behind" => "农村留守儿童",
        // sex
        "male" => "男",
        "female" => "女",
        // risk colours
        "red" => "红色（立即干预）",
        "yellow" => "黄色（定期干预）",
        "blue" => "蓝色（持续关注）",
        "green" => "绿色（情况良好）",
        // guardianship rating
        "good" => "较好",
        "fair" => "一般",
        "poor" => "差",
        // child status and exit reasons
        "active" => "在册",
        "exited" => "已退出",
        "turned_18" => "年满18周岁",
        "moved_away" => "迁出",
        "parent_returned" => "父母返乡",
        "died" => "死亡",
        "adopted" => "被收养",
        "no_longer_eligible" => "不再符合条件",
        "other" => "其他",
        // assistance
        "dibao" => "低保",
        "tekun" => "特困供养",
        "temporary_relief" => "临时救助",
        "medical_relief" => "医疗救助",
        // guardian roles
        "father" => "父亲",
        "mother" => "母亲",
        "grandparent" => "祖父母/外祖父母",
        "entrusted_caregiver" => "受委托照护人",
        "other_guardian" => "其他监护人",
        // whereabouts
        "at_home" => "在家",
        "away_working" => "外出务工",
        "severely_disabled" => "重度残疾",
        "seriously_ill" => "重病",
        "imprisoned" => "服刑或被羁押",
        "drug_rehab" => "强制隔离戒毒",
        "deprived_of_liberty" => "被限制人身自由",
        "missing" => "失联",
        "guardianship_revoked" => "被撤销监护资格",
        "deported" => "被遣送出境",
        "deceased" => "已故",
        // visit modes and actions
        "home" => "入户走访",
        "phone" => "电话",
        "wechat_video" => "微信视频",
        "school" => "到学校",
        "resolved_on_spot" => "当场解决",
        "referral" => "转介",
        "mandatory_report" => "强制报告",
        // signatures and agreements
        "principal" => "甲方（委托人）",
        "caregiver" => "乙方（受托照护人）",
        "witness" => "见证方",
        "draft" => "草稿",
        "signed" => "已签署",
        "abandoned" => "已放弃",
        // referral kinds
        "missing_guardianship" => "监护缺失",
        "out_of_school" => "失学辍学",
        "no_household_registration" => "无户籍",
        "harm_or_abuse" => "受到侵害",
        // task kinds
        "check_listed_minor" => "核查名单中的未成年人",
        "first_visit" => "首次走访",
        "winter_visit" => "寒假走访",
        // task outcomes
        "registered" => "已登记为新儿童",
        "linked" => "已关联已有儿童档案",
        "not_eligible" => "不符合条件",
        "not_found_or_moved" => "查无此人或已迁出",
        // codes inside JSON fields
        "unlisted_minor" => "名单上的未成年人不在台账上",
        "guardian_listed" => "监护人在名单上",
        "household_listed" => "同户成员在名单上",
        "joined_list" => "家庭新进入名单",
        "left_list" => "家庭已不在名单上",
        "addition" => "增员",
        "change" => "变更",
        "exit" => "减员",
        // other codes inside JSON fields (not in the schema's lists)
        "normal" => "正常",
        "watch" => "关注",
        "abnormal" => "异常",
        "living" => "生活",
        "guardianship" => "监护",
        "education" => "教育",
        "health" => "健康",
        "safety" => "安全",
        "mood" => "心理",
        "healthy" => "健康",
        "disabled" => "残疾",
        "ill" => "患病",
        "visual" => "视力残疾",
        "hearing" => "听力残疾",
        "speech" => "言语残疾",
        "physical" => "肢体残疾",
        "intellectual" => "智力残疾",
        "mental" => "精神残疾",
        "multiple" => "多重残疾",
        "below_school_age" => "未到入学年龄",
        "preschool" => "学前教育",
        "primary" => "小学",
        "junior_secondary" => "初中",
        "senior_secondary" => "高中",
        "vocational" => "中职",
        "special_education" => "特殊教育学校",
        "enrolled" => "在读",
        "never_enrolled" => "失学",
        "dropped_out" => "辍学",
        "guardian" => "监护人",
        "new_agreement" => "到期终止，需继续委托的重新签订",
        "automatic" => "到期无异议自动续期一年",
        other => other,
    }
}

/// The English name of a code (the counterpart of [`code_label_zh`]). Unknown codes are
/// returned with underscores as spaces.
pub fn code_label_en(code: &str) -> String {
    known_code_label_en(code)
        .map(str::to_string)
        .unwrap_or_else(|| code.replace('_', " "))
}

fn known_code_label_en(code: &str) -> Option<&'static str> {
    Some(match code {
        "institution_orphan" => "orphan in an institution",
        "community_orphan" => "orphan in the community",
        "de_facto_unsupported" => "de-facto unsupported child",
        "key_difficulty" => "key child in difficulty",
        "difficulty" => "child in difficulty",
        "left_behind" => "left-behind child",
        "male" => "boy",
        "female" => "girl",
        "red" => "red (intervene now)",
        "yellow" => "yellow (intervene regularly)",
        "blue" => "blue (keep watching)",
        "green" => "green (fine)",
        "good" => "good",
        "fair" => "fair",
        "poor" => "poor",
        "active" => "on the roster",
        "exited" => "left the roster",
        "turned_18" => "turned 18",
        "moved_away" => "moved away",
        "parent_returned" => "parent returned",
        "died" => "died",
        "adopted" => "adopted",
        "no_longer_eligible" => "no longer eligible",
        "other" => "other",
        "dibao" => "minimum living allowance (dibao)",
        "tekun" => "support for the destitute (tekun)",
        "temporary_relief" => "temporary relief",
        "medical_relief" => "medical relief",
        "father" => "father",
        "mother" => "mother",
        "grandparent" => "grandparent",
        "entrusted_caregiver" => "entrusted caregiver",
        "other_guardian" => "other guardian",
        "at_home" => "at home",
        "away_working" => "working away",
        "severely_disabled" => "severely disabled",
        "seriously_ill" => "seriously ill",
        "imprisoned" => "imprisoned or detained",
        "drug_rehab" => "in compulsory drug rehabilitation",
        "deprived_of_liberty" => "deprived of liberty",
        "missing" => "missing",
        "guardianship_revoked" => "guardianship revoked",
        "deported" => "deported",
        "deceased" => "deceased",
        "home" => "home visit",
        "phone" => "phone call",
        "wechat_video" => "WeChat video",
        "school" => "at school",
        "resolved_on_spot" => "resolved on the spot",
        "referral" => "referral",
        "mandatory_report" => "mandatory report",
        "principal" => "principal (party A)",
        "caregiver" => "entrusted caregiver (party B)",
        "witness" => "witness",
        "draft" => "draft",
        "signed" => "signed",
        "abandoned" => "abandoned",
        "missing_guardianship" => "missing guardianship",
        "out_of_school" => "out of school",
        "no_household_registration" => "no household registration",
        "harm_or_abuse" => "harm or abuse",
        "check_listed_minor" => "check a minor on an allowance list",
        "first_visit" => "first visit",
        "winter_visit" => "winter holiday visit",
        "registered" => "registered as a new child",
        "linked" => "linked to a child on file",
        "not_eligible" => "not eligible",
        "not_found_or_moved" => "not found or moved away",
        "unlisted_minor" => "minor on the list, not on the roster",
        "guardian_listed" => "a guardian is on the list",
        "household_listed" => "someone in the household is on the list",
        "joined_list" => "family newly on the list",
        "left_list" => "family no longer on the list",
        "addition" => "addition (brought into care)",
        "change" => "change of category",
        "exit" => "exit (left care)",
        "normal" => "normal",
        "watch" => "watch",
        "abnormal" => "abnormal",
        "living" => "living",
        "guardianship" => "guardianship",
        "education" => "education",
        "health" => "health",
        "safety" => "safety",
        "mood" => "mood",
        "healthy" => "healthy",
        "disabled" => "disabled",
        "ill" => "ill",
        "visual" => "visual disability",
        "hearing" => "hearing disability",
        "speech" => "speech disability",
        "physical" => "physical disability",
        "intellectual" => "intellectual disability",
        "mental" => "mental disability",
        "multiple" => "multiple disabilities",
        "below_school_age" => "below school age",
        "preschool" => "preschool",
        "primary" => "primary school",
        "junior_secondary" => "junior secondary",
        "senior_secondary" => "senior secondary",
        "vocational" => "vocational school",
        "special_education" => "special education school",
        "enrolled" => "in school",
        "never_enrolled" => "never enrolled",
        "dropped_out" => "dropped out",
        "guardian" => "guardian",
        "new_agreement" => "ends; a new agreement is signed to continue",
        "automatic" => "renews for a year unless someone objects",
        _ => return None,
    })
}

/// A schema problem sentence (from `sync_core::FieldSpec::check_value`) in plain
/// Chinese. A sentence this function does not know is said generally, never in English.
pub fn problem_zh(problem: &str) -> String {
    let quoted = || problem.split('"').nth(1).unwrap_or("").to_string();
    let numbers: Vec<&str> = problem
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter(|s| !s.is_empty() && *s != "-")
        .collect();
    if problem.starts_with("unknown code") {
        format!("“{}”不是可选的值", quoted())
    } else if problem == "may not be empty" {
        "不能为空".into()
    } else if problem.starts_with("expected a date") {
        "日期格式应为 年-月-日，例如 2026-05-01".into()
    } else if problem.starts_with("no such date") {
        format!(
            "日期“{}”不存在（日历上没有这一天），请核对年、月、日",
            quoted()
        )
    } else if problem.contains("is before 1900") {
        "日期早于1900年，请核对年份".into()
    } else if problem.starts_with("longer than") {
        match numbers.first() {
            Some(n) => format!("内容太长，最多{n}个字"),
            None => "内容太长".into(),
        }
    } else if problem.contains(" outside ") {
        match numbers.as_slice() {
            [n, lo, hi, ..] => format!("数值{n}超出范围（应在{lo}到{hi}之间）"),
            _ => "数值超出范围".into(),
        }
    } else if problem == "expected text" {
        "应填写文字".into()
    } else if problem == "expected a whole number" {
        "应填写整数".into()
    } else if problem == "expected true or false" {
        "应为“是”或“否”".into()
    } else if problem.starts_with("expected a record id") {
        "不是有效的记录编号".into()
    } else if problem == "expected a code" || problem == "expected a list of codes" {
        "应从可选的值中选择".into()
    } else if problem.ends_with("listed twice") {
        format!("“{}”选了两次", quoted())
    } else if problem.starts_with("expected an object or list") {
        "内容格式不对".into()
    } else if problem.contains("bytes, limit") {
        match numbers.as_slice() {
            [n, limit, ..] => format!("内容太多（{n}字节，最多{limit}字节）"),
            _ => "内容太多".into(),
        }
    } else {
        "格式不对".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::*;

    #[test]
    fn every_schema_problem_is_said_in_chinese() {
        use serde_json::json;
        use sync_core::schema::{FieldSpec, ValueType};
        let cases = [
            (ValueType::Text { max_chars: 2 }, json!("abc"), "最多2个字"),
            (ValueType::Text { max_chars: 2 }, json!(3), "文字"),
            (
                ValueType::Integer { min: 1, max: 4 },
                json!(9),
                "应在1到4之间",
            ),
            (ValueType::Integer { min: 1, max: 4 }, json!("x"), "整数"),
            (ValueType::Bool, json!("x"), "是"),
            (ValueType::Date, json!("x"), "年-月-日"),
            (ValueType::Date, json!("2023-02-29"), "“2023-02-29”不存在"),
            (ValueType::Date, json!("1899-01-01"), "1900"),
            (ValueType::RowRef, json!("x"), "编号"),
            (ValueType::Code(&["a"]), json!("b"), "“b”不是可选的值"),
            (ValueType::CodeSet(&["a"]), json!(["a", "a"]), "“a”选了两次"),
            (
                ValueType::Json { max_bytes: 4 },
                json!(["abcdef"]),
                "最多4字节",
            ),
            (ValueType::Json { max_bytes: 4 }, json!(1), "格式"),
            (ValueType::Bool, json!(null), "不能为空"),
        ];
        for (ty, v, expected) in cases {
            let problem = FieldSpec::new("f", ty).check_value(&v).unwrap_err();
            let zh = problem_zh(&problem);
            assert!(zh.contains(expected), "{problem} → {zh}");
            assert!(
                !zh.chars()
                    .any(|c| c.is_ascii_lowercase() && !"abf".contains(c)),
                "{zh}"
            );
        }
    }

    #[test]
    fn every_schema_field_has_a_chinese_label() {
        for t in TABLES {
            assert_ne!(table_label_zh(t.name), t.name, "table {}", t.name);
            for f in t.fields {
                assert_ne!(
                    field_label_zh(f.name),
                    f.name,
                    "{}.{} has no Chinese label",
                    t.name,
                    f.name
                );
            }
        }
    }

    #[test]
    fn every_schema_code_has_a_chinese_label() {
        let lists: &[&[&str]] = &[
            CATEGORY_CODES,
            SEX_CODES,
            RISK_CODES,
            GUARDIANSHIP_RATING_CODES,
            CHILD_STATUS_CODES,
            EXIT_REASON_CODES,
            ASSISTANCE_CODES,
            GUARDIAN_ROLE_CODES,
            WHEREABOUTS_CODES,
            VISIT_MODE_CODES,
            VISIT_ACTION_CODES,
            SIGNER_ROLE_CODES,
            AGREEMENT_STATUS_CODES,
            REFERRAL_KIND_CODES,
            TASK_KIND_CODES,
            TASK_OUTCOME_CODES,
            &[
                "unlisted_minor",
                "guardian_listed",
                "household_listed",
                "joined_list",
                "left_list",
            ],
            &["addition", "change", "exit"],
        ];
        for list in lists {
            for code in *list {
                assert_ne!(code_label_zh(code), *code, "code {code} has no label");
                assert!(
                    known_code_label_en(code).is_some(),
                    "code {code} has no English label"
                );
            }
        }
    }
}
