//! Reading a command's arguments: JSON into its typed input, for every shell (the
//! Tauri app, the bridge, `fieldctl`) through [`crate::Request::parse`].
//!
//! Arguments that do not fit their type are refused the way the domain refuses a bad
//! value: naming the field in the director's words and saying what would fit — an
//! unknown field (`nickname`), a code outside its list (`food=watch`), a yes/no
//! answered `maybe`, a date that is not text — never a parser's English sentence or a
//! bare "请求内容有误".

use crate::error::UserError;
use domain::labels::{code_label_zh, field_label_en, field_label_zh};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads `args` as `T`, or says in Chinese and English which field is wrong and how.
pub fn read<T: DeserializeOwned>(args: Value) -> Result<T, UserError> {
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path: Vec<String> = e
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Seq { .. } => None,
                _ => None,
            })
            .collect();
        refusal(&path, &e.into_inner().to_string())
    })
}

/// The text between the first pair of backticks after `after` in `msg`.
fn ticked(msg: &str, after: &str) -> Option<String> {
    let rest = &msg[msg.find(after)? + after.len()..];
    let start = rest.find('`')? + 1;
    let end = start + rest[start..].find('`')?;
    Some(rest[start..end].to_string())
}

/// Every backticked word after `expected` (`expected one of `a`, `b``).
fn expected_list(msg: &str) -> Vec<String> {
    let Some(at) = msg.find("expected") else {
        return vec![];
    };
    msg[at..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// What a serde message says was expected, in Chinese.
fn expected_zh(msg: &str) -> &'static str {
    let exp = msg.split("expected").nth(1).unwrap_or("");
    if exp.contains("bool") {
        "应填“是”或“否”"
    } else if exp.contains("integer") || exp.contains("u32") || exp.contains("u64") {
        "应填整数"
    } else if exp.contains("number") || exp.contains("f64") {
        "应填数字"
    } else if exp.contains("UUID") || msg.contains("UUID") {
        "应是一条记录的编号"
    } else if exp.contains("sequence") {
        "应是一个列表（可多选）"
    } else if exp.contains("struct") || exp.contains("map") {
        "应是一组分项填写的内容"
    } else if exp.contains("string") {
        "应填文字"
    } else {
        "格式不对"
    }
}

/// The value a serde message says it got (`invalid type: string "maybe"` → `maybe`).
fn got(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("invalid type: ")?;
    let rest = rest.split(", expected").next()?;
    Some(match rest.split_once(' ') {
        Some(("string", v)) => v.trim_matches('"').to_string(),
        Some((_, v)) => v.to_string(),
        None => rest.to_string(),
    })
}

fn refusal(path: &[String], msg: &str) -> UserError {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    let parent = path.join(".");
    let leaf = path.last().cloned().unwrap_or_default();
    if let Some(field) = ticked(msg, "unknown field") {
        // The path may already end at the unknown field, or stop at its parent.
        let at = if leaf == field {
            parent.clone()
        } else if parent.is_empty() {
            field.clone()
        } else {
            format!("{parent}.{field}")
        };
        let allowed: Vec<String> = expected_list(msg)
            .iter()
            .map(|f| field_label_zh(f).to_string())
            .collect();
        let allowed_zh = if allowed.is_empty() {
            String::new()
        } else {
            format!("；可以填写的有：{}", allowed.join("、"))
        };
        return UserError::new(
            "unknown_field",
            format!("没有“{field}”这一项，请检查填写的名称{allowed_zh}"),
            format!(
                "there is no field {field:?}; expected one of {:?}",
                expected_list(msg)
            ),
        )
        .on_field(at);
    }
    if let Some(field) = ticked(msg, "missing field") {
        let at = if parent.is_empty() {
            field.clone()
        } else {
            format!("{parent}.{field}")
        };
        return UserError::new(
            "required",
            format!("请填写“{}”", field_label_zh(&field)),
            format!("{} is required", field_label_en(&field)),
        )
        .on_field(at);
    }
    let label_zh = if leaf.is_empty() {
        "填写的内容".to_string()
    } else {
        format!("“{}”", field_label_zh(&leaf))
    };
    let label_en = if leaf.is_empty() {
        "the request".to_string()
    } else {
        field_label_en(&leaf)
    };
    let refused = |code: &str, zh: String, en: String| {
        let e = UserError::new(code, zh, en);
        if parent.is_empty() {
            e
        } else {
            e.on_field(parent.clone())
        }
    };
    if let Some(value) = ticked(msg, "unknown variant") {
        let choices: Vec<String> = expected_list(msg)
            .iter()
            .map(|c| format!("{}（{c}）", code_label_zh(c)))
            .collect();
        return refused(
            "unknown_code",
            format!("{label_zh}不能填“{value}”，可选：{}", choices.join("、")),
            format!(
                "{label_en}: {value:?} is not one of {:?}",
                expected_list(msg)
            ),
        );
    }
    if msg.starts_with("invalid type") || msg.starts_with("invalid value") || msg.contains("UUID") {
        let got = got(msg)
            .map(|g| format!("，收到的是“{g}”"))
            .unwrap_or_default();
        return refused(
            "bad_value",
            format!("{label_zh}{}{got}", expected_zh(msg)),
            format!("{label_en}: {msg}"),
        );
    }
    refused(
        "bad_value",
        format!("{label_zh}填写有误，请检查"),
        format!("{label_en}: {msg}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::*;
    use serde_json::json;

    fn refused<T: DeserializeOwned + std::fmt::Debug>(v: Value) -> UserError {
        read::<T>(v).unwrap_err()
    }

    #[test]
    fn an_unknown_field_is_named_with_the_fields_there_are() {
        let e = refused::<EditChild>(json!({
            "child_id": "0190a3c4-0000-7000-8000-000000000001",
            "changes": {"nickname": "小花"}
        }));
        assert_eq!(e.code, "unknown_field");
        assert_eq!(e.field.as_deref(), Some("changes.nickname"));
        assert!(e.zh.contains("没有“nickname”这一项"), "{}", e.zh);
        assert!(
            e.zh.contains("姓名"),
            "the fields there are, in Chinese: {}",
            e.zh
        );
        assert!(!e.zh.contains("请求内容有误"));
    }

    #[test]
    fn a_code_outside_its_list_names_the_field_and_the_choices() {
        let mut checklist = serde_json::Map::new();
        for area in domain::ChecklistArea::ALL {
            checklist.insert(area.code().into(), json!({"status": "normal"}));
        }
        checklist.insert("living".into(), json!({"status": "fine"}));
        let e = refused::<NewVisit>(json!({
            "child_id": "0190a3c4-0000-7000-8000-000000000001",
            "mode": "home", "risk_colour": "green", "checklist": checklist,
        }));
        assert_eq!(e.code, "unknown_code");
        assert_eq!(e.field.as_deref(), Some("checklist.living.status"));
        assert!(e.zh.contains("“fine”"), "{}", e.zh);
        assert!(e.zh.contains("正常"), "the choices in Chinese: {}", e.zh);
        // An area the checklist does not have.
        checklist.insert("living".into(), json!({"status": "normal"}));
        checklist.insert("food".into(), json!({"status": "watch"}));
        let e = refused::<NewVisit>(json!({
            "child_id": "0190a3c4-0000-7000-8000-000000000001",
            "mode": "home", "risk_colour": "green", "checklist": checklist,
        }));
        assert_eq!(e.field.as_deref(), Some("checklist.food"), "{e:?}");
        assert!(e.zh.contains("“food”"), "{}", e.zh);
    }

    #[test]
    fn a_yes_or_no_answered_otherwise_says_so() {
        let e = refused::<EditChild>(json!({
            "child_id": "0190a3c4-0000-7000-8000-000000000001",
            "changes": {"household_registered": "maybe"}
        }));
        assert_eq!(e.code, "bad_value");
        assert_eq!(e.field.as_deref(), Some("changes.household_registered"));
        assert!(e.zh.contains("是否有户籍"), "{}", e.zh);
        assert!(e.zh.contains("“是”或“否”"), "{}", e.zh);
        assert!(e.zh.contains("maybe"), "{}", e.zh);
    }

    #[test]
    fn a_missing_field_and_a_bad_id_are_named() {
        let e = refused::<PinInput>(json!({}));
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("required", Some("pin"))
        );
        let e = refused::<ChildRef>(json!({"child_id": "not-an-id"}));
        assert_eq!(e.field.as_deref(), Some("child_id"));
        assert!(e.zh.contains("编号"), "{}", e.zh);
    }
}
