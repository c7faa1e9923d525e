//! What every typed record shares: turning it into the schema's field map and back,
//! the schema type check that runs before any domain rule, and the small checks many
//! records make (a required text, a date not in the future, a phone number, a hash).
//!
//! A typed record (`Child`, `Visit`, …) is a view of one synced row: its serde field
//! names are the schema's field names, so `to_fields` is exactly what the device writes
//! as changes and `from_fields` reads a row's current fields back.

use crate::error::DomainError;
use crate::labels::{code_label_zh, field_label_zh, table_label_zh};
use crate::schema::{TOMBSTONE_FIELD, VOID_FIELD};
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sync_core::schema::{DateProblem, FieldSpec, SchemaError, TableSpec, ValueType};

/// One row's fields by schema field name: what [`sync_core::Change`]s carry.
pub type Fields = Map<String, Value>;

/// The void of an append-only record (a visit, photo, signed version, signature): the
/// record stays, marked void with the reason a person gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Void {
    /// Why the record is void, in the words of the person who voided it.
    pub reason: String,
    /// Who voided it (account name or id).
    #[serde(default)]
    pub by: String,
}

impl Void {
    /// A void needs a reason: a legal record is never voided silently.
    pub fn validate(&self) -> Result<(), DomainError> {
        required_text(VOID_FIELD, &self.reason).map_err(|_| {
            DomainError::new(
                "void_reason_required",
                "作废记录时请写明原因",
                "a voided record needs a reason",
            )
            .on_field(VOID_FIELD)
        })
    }
}

/// Puts each of `defaults` into `fields` where the field is absent or `null`: how a
/// new record gets the values the domain gives a field nobody filled in (see the
/// record types' `defaults` constructors). Every shell's input goes through it, so no
/// shell keeps a default of its own.
pub fn fill_defaults(fields: &mut Fields, defaults: Fields) {
    for (k, v) in defaults {
        match fields.get(&k) {
            None | Some(Value::Null) => {
                fields.insert(k, v);
            }
            Some(_) => {}
        }
    }
}

/// All schema fields of `record` (absent optional values as `null`), nothing else.
pub(crate) fn to_fields<T: Serialize>(spec: &TableSpec, record: &T) -> Fields {
    let mut out = Map::new();
    // Serialising a derived struct with string keys cannot fail; an empty map would
    // fail every schema check, so the impossible case cannot pass silently either.
    if let Ok(Value::Object(all)) = serde_json::to_value(record) {
        for f in spec.fields {
            let v = all.get(f.name).cloned().unwrap_or(Value::Null);
            out.insert(f.name.to_string(), v);
        }
    }
    out
}

/// Reads a typed record from a row's fields: unknown field names are refused, every
/// field is type-checked against the schema, a missing tombstone reads as not deleted.
/// `shapes` then checks the record's JSON fields (with [`json_field`]) so that a
/// malformed one is named in the error.
pub(crate) fn from_fields<T: DeserializeOwned>(
    spec: &TableSpec,
    fields: &Fields,
    shapes: impl FnOnce(&Fields) -> Result<(), DomainError>,
) -> Result<T, DomainError> {
    if let Some(name) = fields.keys().find(|k| spec.field(k).is_none()) {
        return Err(SchemaError::UnknownField {
            table: spec.name.to_string(),
            field: name.chars().take(64).collect(),
        }
        .into());
    }
    let mut complete = fields.clone();
    if spec.field(TOMBSTONE_FIELD).is_some() {
        complete
            .entry(TOMBSTONE_FIELD)
            .or_insert(Value::Bool(false));
    }
    check_schema(spec, &complete)?;
    shapes(&complete)?;
    serde_json::from_value(Value::Object(complete)).map_err(|e| {
        DomainError::new(
            "bad_record",
            format!("{}的内容格式不对，无法读取", table_label_zh(spec.name)),
            format!("{} record does not fit its type: {e}", spec.name),
        )
    })
}

/// Parses a JSON field into its typed shape, with an error naming the field.
pub(crate) fn json_field<T: DeserializeOwned>(
    fields: &Fields,
    name: &str,
) -> Result<Option<T>, DomainError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
            DomainError::new(
                "bad_value",
                format!("“{}”的内容格式不对", field_label_zh(name)),
                format!("{name}: {e}"),
            )
            .on_field(name)
        }),
    }
}

/// The schema type check of every field of a row (missing fields count as `null`).
pub(crate) fn check_schema(spec: &TableSpec, fields: &Fields) -> Result<(), DomainError> {
    for f in spec.fields {
        let v = fields.get(f.name).unwrap_or(&Value::Null);
        f.check_value(v)
            .map_err(|problem| schema_problem(spec, f, v, problem))?;
    }
    Ok(())
}

pub(crate) fn schema_problem(
    spec: &TableSpec,
    f: &FieldSpec,
    v: &Value,
    problem: String,
) -> DomainError {
    if let ValueType::Code(codes) | ValueType::CodeSet(codes) = f.ty {
        let given: Vec<&str> = match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if let Some(bad) = given.into_iter().find(|s| !codes.contains(s)) {
            return unknown_code(f.name, bad, codes);
        }
    }
    SchemaError::BadValue {
        table: spec.name.to_string(),
        field: f.name.to_string(),
        problem,
    }
    .into()
}

/// A code that is not in its field's list: says which list and what may be chosen.
/// Categories get their own error code, `unknown_category`.
pub(crate) fn unknown_code(field: &str, bad: &str, codes: &[&str]) -> DomainError {
    let code = if field == "categories" {
        "unknown_category"
    } else {
        "unknown_code"
    };
    let bad: String = bad.chars().take(40).collect();
    let choices: Vec<&str> = codes.iter().map(|c| code_label_zh(c)).collect();
    DomainError::new(
        code,
        format!(
            "未知的{}“{bad}”，可选：{}",
            field_label_zh(field),
            choices.join("、")
        ),
        format!(
            "unknown {field} code {bad:?}; expected one of: {}",
            codes.join(", ")
        ),
    )
    .on_field(field)
}

/// The refusal of a record for a village this device does not hold (`held`): the
/// server would refuse it, and the director would lose sight of it.
pub fn village_not_held(village: &str, held: &[String]) -> DomainError {
    let village: String = village.chars().take(40).collect();
    DomainError::new(
        "village_not_held",
        format!(
            "本机负责的村居是 {}，不能为村居“{village}”登记记录。请核对村居代码；儿童确实不在您负责的村居时，请联系乡镇督导员",
            held.join("、")
        ),
        format!(
            "this device does not hold village {village:?} (it holds {}): check the village code",
            held.join(", ")
        ),
    )
    .on_field(crate::schema::SCOPE_FIELD)
}

/// A text that must say something (not empty, not only spaces).
pub(crate) fn required_text(field: &str, value: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::new(
            "required",
            format!("请填写“{}”", field_label_zh(field)),
            format!("{field} is required"),
        )
        .on_field(field));
    }
    Ok(())
}

/// A date that cannot lie after today (a birth, a visit, an exit).
pub(crate) fn not_in_future(
    field: &str,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<(), DomainError> {
    if date > today {
        return Err(DomainError::new(
            "date_in_future",
            format!(
                "“{}”（{date}）不能晚于今天（{today}）",
                field_label_zh(field)
            ),
            format!("{field} {date} is after today {today}"),
        )
        .on_field(field));
    }
    Ok(())
}

/// `later` (field `field`) must not be before `earlier` (field `earlier_field`).
pub(crate) fn not_before(
    field: &str,
    later: NaiveDate,
    earlier_field: &str,
    earlier: NaiveDate,
) -> Result<(), DomainError> {
    if later < earlier {
        return Err(DomainError::new(
            "date_order",
            format!(
                "“{}”（{later}）不能早于“{}”（{earlier}）",
                field_label_zh(field),
                field_label_zh(earlier_field)
            ),
            format!("{field} {later} is before {earlier_field} {earlier}"),
        )
        .on_field(field));
    }
    Ok(())
}

/// A phone number a person can dial: an 11-digit mobile number starting with 1, or a
/// landline of 7–12 digits with an optional area code and dash; `+86` is allowed.
pub(crate) fn check_phone(field: &str, phone: &str) -> Result<(), DomainError> {
    let trimmed = phone.trim();
    let rest = trimmed.strip_prefix("+86").unwrap_or(trimmed);
    let ok_chars = rest
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let mobile = digits.len() == 11 && digits.starts_with('1');
    let landline = (7..=12).contains(&digits.len()) && !digits.starts_with('1');
    if !ok_chars || !(mobile || landline) {
        return Err(DomainError::new(
            "invalid_phone",
            format!(
                "“{}”格式不对：手机号为以1开头的11位数字，座机可写成“区号-号码”",
                field_label_zh(field)
            ),
            format!("{field}: not a phone number (11-digit mobile or area code and landline)"),
        )
        .on_field(field));
    }
    Ok(())
}

/// A SHA-256 as 64 lowercase hexadecimal characters (blobs, agreement texts).
pub(crate) fn check_sha256_hex(field: &str, hash: &str) -> Result<(), DomainError> {
    let ok = hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !ok {
        return Err(DomainError::new(
            "invalid_hash",
            format!("“{}”不是有效的文件指纹", field_label_zh(field)),
            format!("{field}: expected a SHA-256 as 64 lowercase hex characters"),
        )
        .on_field(field));
    }
    Ok(())
}

/// The local calendar date of a timestamp as the device wrote it: RFC 3339 with an
/// offset (`2026-05-01T09:30:00+08:00`), or a local time without one
/// (`2026-05-01T09:30:00`, `2026-05-01 09:30`). The date is the one written, in the
/// writer's own time zone, which is the day the director lived it.
///
/// A refusal says what is wrong: a day the calendar does not have, a year before 1900,
/// an hour or minute that does not exist, or a text that is not a time stamp at all.
pub(crate) fn timestamp_date(field: &str, ts: &str) -> Result<NaiveDate, DomainError> {
    let parsed = chrono::DateTime::parse_from_rfc3339(ts)
        .map(|dt| dt.date_naive())
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .find_map(|fmt| chrono::NaiveDateTime::parse_from_str(ts, fmt).ok())
            .map(|dt| dt.date())
        });
    let label = field_label_zh(field);
    let date_part: String = ts.chars().take(10).collect();
    let err = |code, zh: String, en: String| DomainError::new(code, zh, en).on_field(field);
    match (parsed, sync_core::schema::check_iso_date(&date_part)) {
        (Some(d), Ok(())) => Ok(d),
        (_, Err(DateProblem::NoSuchDate)) => Err(err(
            "invalid_timestamp",
            format!("“{label}”中的日期“{date_part}”不存在（日历上没有这一天），请核对年、月、日"),
            format!("{field}: the date {date_part:?} does not exist"),
        )),
        (_, Err(DateProblem::BeforeMinYear)) => Err(err(
            "invalid_timestamp",
            format!("“{label}”中的日期（{date_part}）早于1900年，请核对年份"),
            format!("{field}: the date {date_part} is before 1900"),
        )),
        (None, Ok(())) if !time_part_exists(ts) => {
            let time: String = ts.chars().skip(11).take(8).collect();
            Err(err(
                "invalid_timestamp",
                format!("“{label}”中的时间“{time}”不存在（时为0到23，分和秒为0到59）"),
                format!("{field}: the time {time:?} does not exist"),
            ))
        }
        _ => Err(err(
            "invalid_timestamp",
            format!("“{label}”格式不对，应为 年-月-日T时:分:秒，例如 2026-05-01T09:30:00+08:00"),
            format!("{field}: expected an RFC 3339 timestamp such as 2026-05-01T09:30:00+08:00"),
        )),
    }
}

/// Whether the `hh:mm[:ss]` after a valid date names a time of day that exists. A text
/// whose time part is not of that shape counts as existing (it is a format problem).
fn time_part_exists(ts: &str) -> bool {
    let time: Vec<char> = ts.chars().skip(11).take(8).collect();
    let two = |i: usize| -> Option<u32> {
        let (a, b) = (time.get(i)?.to_digit(10)?, time.get(i + 1)?.to_digit(10)?);
        Some(a * 10 + b)
    };
    let (Some(h), Some(m)) = (two(0), two(3)) else {
        return true;
    };
    let s = if time.get(5) == Some(&':') {
        two(6)
    } else {
        Some(0)
    };
    h <= 23 && m <= 59 && s.is_none_or(|s| s <= 60)
}

/// Completed years between `birth` and `on` (a birthday on 29 February counts on
/// 1 March in other years).
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    use chrono::Datelike;
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn age_counts_completed_years() {
        assert_eq!(age_on(d("2010-06-07"), d("2026-06-06")), 15);
        assert_eq!(age_on(d("2010-06-07"), d("2026-06-07")), 16);
        assert_eq!(age_on(d("2008-02-29"), d("2026-02-28")), 17);
        assert_eq!(age_on(d("2008-02-29"), d("2026-03-01")), 18);
    }

    #[test]
    fn phones_a_director_types_are_accepted_and_garbage_is_not() {
        for ok in [
            "13812345678",
            "+86 138 1234 5678",
            "0535-6212345",
            "6212345",
        ] {
            assert!(check_phone("phone", ok).is_ok(), "{ok}");
        }
        for bad in ["", "1381234567", "138123456789", "call me", "12345"] {
            assert_eq!(
                check_phone("phone", bad).map_err(|e| e.code),
                Err("invalid_phone"),
                "{bad}"
            );
        }
    }

    #[test]
    fn timestamps_keep_the_writers_local_date() {
        assert_eq!(
            timestamp_date("visited_at", "2026-05-01T23:30:00+08:00").ok(),
            Some(d("2026-05-01"))
        );
        assert_eq!(
            timestamp_date("visited_at", "2026-05-01T09:30").ok(),
            Some(d("2026-05-01"))
        );
        assert!(timestamp_date("visited_at", "yesterday").is_err());
    }
}
