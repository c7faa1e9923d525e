//! Values as a person reads them, in one language: codes by their names, yes and no,
//! times in the deployment's zone, a visit's checklist as a line, a GPS fix as
//! coordinates, ID numbers masked (also inside free text). Ids of other rows, content
//! hashes and signature strokes are never shown (`None`). One place for the child's
//! file, the quarantine and anything else that shows a record's fields.

use super::lang::Lang;
use serde_json::Value;
use sync_core::schema::ValueType;

/// Fields whose values are shown to nobody: raw drawing data and the full agreement text
/// (it has its own page).
const NEVER_SHOWN: &[&str] = &["strokes", "canonical_text", "terms"];

/// A record's field as shown, or `None` when it is not shown to a person (an id of
/// another row, a hash, strokes, an empty value).
pub fn value(l: Lang, table: &str, field: &str, v: &Value) -> Option<String> {
    if v.is_null() || NEVER_SHOWN.contains(&field) {
        return None;
    }
    let kind = domain::schema::table(table)
        .and_then(|t| t.field(field))
        .map(|f| &f.ty);
    match kind {
        Some(ValueType::RowRef) => return None,
        Some(ValueType::Text { .. }) if is_hash_field(field) => return None,
        _ if is_hash_field(field) => return None,
        _ => {}
    }
    let shown = match (field, v) {
        ("checklist", Value::Object(m)) => checklist(l, m),
        ("gps", Value::Object(m)) => gps(l, m)?,
        (VOID, Value::Object(m)) => {
            let reason = m.get("reason").and_then(Value::as_str).unwrap_or("");
            format!("{}{reason}", l.pick("已作废：", "voided: "))
        }
        (_, Value::String(s)) if field.ends_with("_at") => time_in_zone(s),
        (_, Value::String(s)) if domain::id_number::is_id_number_field(field) => {
            domain::mask_id_number(s)
        }
        (_, Value::String(s)) => {
            if looks_like_uuid(s) {
                return None;
            }
            let named = l.code(s);
            if named != *s && named != s.replace('_', " ") {
                named
            } else {
                s.clone()
            }
        }
        (_, Value::Bool(b)) => l.yes_no(*b).to_string(),
        (_, Value::Array(a)) if a.is_empty() => l.t("none").to_string(),
        (_, Value::Array(a)) => a
            .iter()
            .filter_map(|x| leaf(l, x))
            .collect::<Vec<_>>()
            .join(l.pick("、", ", ")),
        (_, Value::Object(m)) => m
            .iter()
            .filter_map(|(k, x)| match (k.as_str(), x) {
                ("disability_grade", Value::Number(n)) => {
                    Some(l.pick("{n} 级", "grade {n}").replace("{n}", &n.to_string()))
                }
                _ => leaf(l, x),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        (_, other) => other.to_string(),
    };
    let shown = super::mask_ids_in_text(&shown);
    (!shown.is_empty()).then_some(shown)
}

const VOID: &str = domain::schema::VOID_FIELD;

fn is_hash_field(field: &str) -> bool {
    field.ends_with("sha256")
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// A code or a plain value inside a list or an object.
fn leaf(l: Lang, v: &Value) -> Option<String> {
    match v {
        Value::String(s) if looks_like_uuid(s) => None,
        Value::String(s) => Some(l.code(s)),
        Value::Bool(b) => Some(l.yes_no(*b).to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A time a phone wrote (RFC 3339, with the phone's own offset) in the deployment's
/// zone, whatever zone the phone was set to.
pub fn time_in_zone(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t
            .with_timezone(&crate::model::clock::zone())
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => s.to_string(),
    }
}

/// A visit checklist as a line: each area with its state (and note).
fn checklist(l: Lang, v: &serde_json::Map<String, Value>) -> String {
    const AREAS: [&str; 6] = [
        "living",
        "guardianship",
        "education",
        "health",
        "safety",
        "mood",
    ];
    AREAS
        .iter()
        .filter_map(|k| {
            let item = v.get(*k)?;
            let status = item.get("status").and_then(|s| s.as_str()).unwrap_or("");
            let note = item.get("note").and_then(|s| s.as_str()).unwrap_or("");
            let (area, st) = (l.code(k), l.code(status));
            Some(match (note.is_empty(), l) {
                (true, Lang::Zh) => format!("{area}：{st}"),
                (true, Lang::En) => format!("{area}: {st}"),
                (false, Lang::Zh) => format!("{area}：{st}（{note}）"),
                (false, Lang::En) => format!("{area}: {st} ({note})"),
            })
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn gps(l: Lang, m: &serde_json::Map<String, Value>) -> Option<String> {
    let (lat, lon) = (m.get("lat")?.as_f64()?, m.get("lon")?.as_f64()?);
    let acc = m.get("accuracy_m").and_then(Value::as_f64).unwrap_or(0.0);
    Some(format!(
        "{lat:.5}, {lon:.5} ({} {acc:.0} {})",
        l.pick("误差", "within"),
        l.pick("米", "m")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_in_one_language_without_codes_ids_or_hashes() {
        let id = "37060219800101123X";
        assert_eq!(
            value(Lang::Zh, "child", "id_number", &json!(id)).unwrap(),
            "3706**********123X"
        );
        let note = value(
            Lang::Zh,
            "visit",
            "problems",
            &json!(format!("奶奶身份证 {id} 已核对")),
        )
        .unwrap();
        assert!(
            !note.contains(id) && note.contains("3706**********123X"),
            "{note}"
        );
        assert_eq!(
            value(Lang::Zh, "child", "risk_colour", &json!("red")).unwrap(),
            "红色（立即干预）"
        );
        assert_eq!(
            value(Lang::En, "child", "risk_colour", &json!("red")).unwrap(),
            "red (intervene now)"
        );
        assert_eq!(
            value(Lang::En, "child", "household_registered", &json!(true)).unwrap(),
            "yes"
        );
        assert_eq!(
            value(Lang::Zh, "child", "household_registered", &json!(false)).unwrap(),
            "否"
        );
        assert_eq!(
            value(Lang::Zh, "visit", "actions", &json!([])).unwrap(),
            "无"
        );
        assert_eq!(
            value(
                Lang::En,
                "child",
                "categories",
                &json!(["left_behind", "difficulty"])
            )
            .unwrap(),
            "left-behind child, child in difficulty"
        );
        // Ids of other rows, hashes and strokes are not shown.
        assert_eq!(
            value(
                Lang::Zh,
                "photo",
                "visit_id",
                &json!(uuid::Uuid::now_v7().to_string())
            ),
            None
        );
        assert_eq!(
            value(Lang::Zh, "photo", "blob_sha256", &json!("a".repeat(64))),
            None
        );
        assert_eq!(
            value(Lang::Zh, "signature", "strokes", &json!([[1, 2]])),
            None
        );
        // A phone's time, written with its own offset, reads in the deployment's zone.
        assert_eq!(
            value(
                Lang::Zh,
                "visit",
                "visited_at",
                &json!("2026-09-08T02:00:00+00:00")
            )
            .unwrap(),
            "2026-09-08 10:00"
        );
        let line = value(
            Lang::En,
            "visit",
            "checklist",
            &json!({"guardianship": {"status": "watch", "note": format!("监护人 {id}")}}),
        )
        .unwrap();
        assert!(
            line.starts_with("guardianship: watch") && !line.contains(id),
            "{line}"
        );
        let health = value(
            Lang::Zh,
            "child",
            "health",
            &json!({"condition": "disabled", "disability_type": "visual", "disability_grade": 2}),
        )
        .unwrap();
        assert!(
            ["残疾", "视力残疾", "2 级"]
                .iter()
                .all(|w| health.split(" · ").any(|x| x == *w)),
            "{health}"
        );
    }
}
