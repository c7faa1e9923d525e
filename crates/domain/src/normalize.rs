//! What people really type, put in the form the rules check. A Chinese keyboard types
//! full-width digits and letters (`３７０６…`, `Ｘ`), a space of any width slips in
//! before or after a value, a date is written `2015/1/1` or `2015年1月1日`, a code is
//! typed `Left_Behind `, a phone number `１３８ １２３４ ５６７８`. The device's write
//! path runs [`normalize_fields`] on every write before anything is validated or
//! stored, so that the validators refuse only what is really wrong.
//!
//! Every function here works on characters, never on byte positions, never panics, and
//! is idempotent: normalising a normalised value changes nothing. Free text (names,
//! addresses, notes) keeps its own characters (full-width Chinese punctuation is
//! right there); only surrounding spaces, invisible marks and control characters go.

use crate::record::Fields;
use crate::schema;
use serde_json::Value;
use std::borrow::Cow;
use sync_core::schema::{TableSpec, ValueType};

/// Characters that occupy no space and that nobody means to type: zero-width spaces
/// and joiners, directional marks, the byte-order mark, the soft hyphen.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// The ASCII character a full-width form stands for (`３` → `3`, `Ｘ` → `X`, `－` →
/// `-`, the ideographic space → a space); any other character unchanged.
pub fn ascii_char(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// `s` with full-width forms made ASCII and invisible marks removed (see
/// [`ascii_char`], [`is_invisible`]). Borrowed when nothing changes.
pub fn ascii_form(s: &str) -> Cow<'_, str> {
    if s.chars().all(|c| ascii_char(c) == c && !is_invisible(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter(|c| !is_invisible(*c))
            .map(ascii_char)
            .collect(),
    )
}

/// Free text as it should be kept: invisible marks and control characters removed
/// (line breaks and tabs stay), surrounding white space of any width trimmed.
pub fn clean_text(s: &str) -> Cow<'_, str> {
    let unwanted = |c: char| is_invisible(c) || (c.is_control() && c != '\n' && c != '\t');
    let cleaned: Cow<'_, str> = if s.chars().any(unwanted) {
        Cow::Owned(s.chars().filter(|c| !unwanted(*c)).collect())
    } else {
        Cow::Borrowed(s)
    };
    trimmed(cleaned)
}

fn trimmed(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => {
            let t = o.trim();
            if t.len() == o.len() {
                Cow::Owned(o)
            } else {
                Cow::Owned(t.to_string())
            }
        }
    }
}

/// A code of one of the schema's code lists as typed: ASCII form, trimmed, lower case
/// (`" Left_Behind"` → `left_behind`).
pub fn normalize_code(s: &str) -> Cow<'_, str> {
    let t = trimmed(ascii_form(s));
    if t.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(t.to_ascii_lowercase())
    } else {
        t
    }
}

/// A date as people write it, as `YYYY-MM-DD`: full-width digits, surrounding spaces,
/// `/` or `.` as separators, one-digit months and days, `2015年1月1日`. Text that is not
/// a year, month and day in that order is returned trimmed, for the validator to
/// refuse with its reason (a day that does not exist stays as written, so that the
/// message quotes it).
pub fn normalize_date(s: &str) -> Cow<'_, str> {
    let t = trimmed(ascii_form(s));
    let t_str: &str = &t;
    let body = t_str.strip_suffix('日').unwrap_or(t_str);
    let parts: Vec<&str> = body.split(['-', '/', '.', '年', '月']).collect();
    let [y, m, d] = parts.as_slice() else {
        return t;
    };
    let number = |p: &str, max_len: usize| {
        (!p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    match (number(y, 4), number(m, 2), number(d, 2)) {
        (Some(y), Some(m), Some(d)) if y.to_string().len() == 4 => {
            let iso = format!("{y:04}-{m:02}-{d:02}");
            if iso == t_str {
                t
            } else {
                Cow::Owned(iso)
            }
        }
        _ => t,
    }
}

/// A time stamp as typed (`２０２６－０５－１８ １５：２０`, `2026/5/18 15:20`): ASCII form,
/// trimmed, its date part as in [`normalize_date`].
pub fn normalize_timestamp(s: &str) -> Cow<'_, str> {
    let t = trimmed(ascii_form(s));
    let date: String = t.chars().take_while(|c| *c != 'T' && *c != ' ').collect();
    let iso = normalize_date(&date);
    if *iso == *date {
        return t;
    }
    let rest: String = t.chars().skip(date.chars().count()).collect();
    Cow::Owned(format!("{iso}{rest}"))
}

/// A phone number as typed: ASCII form, trimmed, dashes of every kind as `-`, an area
/// code in parentheses as `0535-…`.
pub fn normalize_phone(s: &str) -> Cow<'_, str> {
    let t = trimmed(ascii_form(s));
    let dash = |c: char| matches!(c, '\u{2010}'..='\u{2015}' | '\u{2212}');
    let bracketed = t.starts_with('(') && t.contains(')');
    if !bracketed && !t.chars().any(dash) {
        return t;
    }
    let mut out: String = t.chars().map(|c| if dash(c) { '-' } else { c }).collect();
    if bracketed {
        out = out.replacen('(', "", 1).replacen(')', "-", 1);
        out = out.trim().replace("--", "-").replace("- ", "-");
    }
    Cow::Owned(out)
}

/// Fields whose text is a time stamp written by the device or typed.
const TIMESTAMP_FIELDS: &[&str] = &["visited_at", "taken_at", "signed_at"];
/// Fields whose text is a phone number.
const PHONE_FIELDS: &[&str] = &["phone"];
/// Text that is machine-made and signed or hashed: never touched.
const VERBATIM_FIELDS: &[&str] = &[
    "canonical_text",
    "text_sha256",
    "blob_sha256",
    "thumb_sha256",
    "image_sha256",
];
/// Codes inside the child's JSON fields (`health`, `school`) and the checklist.
const NESTED_CODE_KEYS: &[&str] = &[
    "condition",
    "disability_type",
    "enrolment",
    "stage",
    "status",
    "relation",
    "renewal",
];

/// Replaces the string in `v` by `f` of it, when that differs.
fn update(v: &mut Value, f: impl FnOnce(&str) -> Cow<'_, str>) {
    let Some(s) = v.as_str() else { return };
    let new = f(s);
    if new != s {
        let owned = new.into_owned();
        *v = Value::String(owned);
    }
}

/// Normalises one field of a row of `table` in place, according to its type in the
/// schema and its meaning (an ID number, a phone, a time stamp, a code, …). Unknown
/// tables and fields, and values of an unexpected JSON type, are left as they are for
/// the validator to refuse. An optional text left empty becomes `null` (not filled in).
pub fn normalize_field(table: &str, field: &str, v: &mut Value) {
    if let Some(t) = schema::table(table) {
        normalize_in(t, field, v);
    }
}

/// [`normalize_field`] for a table already looked up (the device's write path).
pub fn normalize_in(table_spec: &TableSpec, field: &str, v: &mut Value) {
    let table = table_spec.name;
    let Some(spec) = table_spec.field(field) else {
        return;
    };
    match spec.ty {
        ValueType::Text { .. } => {
            if VERBATIM_FIELDS.contains(&field) {
                return;
            }
            update(v, |s| {
                if field == "id_number" {
                    Cow::Owned(normalize_id_number(s))
                } else if PHONE_FIELDS.contains(&field) {
                    normalize_phone(s)
                } else if TIMESTAMP_FIELDS.contains(&field) {
                    normalize_timestamp(s)
                } else if field == schema::SCOPE_FIELD {
                    trimmed(ascii_form(s))
                } else {
                    clean_text(s)
                }
            });
            if spec.nullable && v.as_str() == Some("") {
                *v = Value::Null;
            }
        }
        ValueType::Date => update(v, normalize_date),
        ValueType::Code(_) => update(v, normalize_code),
        ValueType::CodeSet(_) => {
            if let Value::Array(items) = v {
                for item in items {
                    update(item, normalize_code);
                }
            }
        }
        ValueType::RowRef => update(v, |s| {
            let t = trimmed(ascii_form(s));
            if t.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(t.to_ascii_lowercase())
            } else {
                t
            }
        }),
        ValueType::Json { .. } => normalize_json(table, field, v),
        ValueType::Integer { .. } | ValueType::Bool => {}
    }
}

fn normalize_id(s: &str) -> Cow<'_, str> {
    Cow::Owned(normalize_id_number(s))
}

/// The JSON fields whose insides people type: the checklist (codes and notes), the
/// child's health and school (codes), a void's reason, and a care agreement's terms
/// (ID numbers, phone numbers and dates of the parties).
fn normalize_json(table: &str, field: &str, v: &mut Value) {
    match (table, field) {
        ("visit", "checklist") => {
            let Value::Object(areas) = v else { return };
            let keys: Vec<String> = areas.keys().cloned().collect();
            for k in keys {
                let nk = normalize_code(&k).into_owned();
                if nk != k {
                    if let Some(item) = areas.remove(&k) {
                        areas.entry(nk.clone()).or_insert(item);
                    }
                }
                if let Some(Value::Object(item)) = areas.get_mut(&nk) {
                    if let Some(s) = item.get_mut("status") {
                        update(s, normalize_code);
                    }
                    if let Some(n) = item.get_mut("note") {
                        update(n, clean_text);
                    }
                }
            }
        }
        ("child", "health") | ("child", "school") => {
            let Value::Object(m) = v else { return };
            for k in NESTED_CODE_KEYS {
                if let Some(c) = m.get_mut(*k) {
                    update(c, normalize_code);
                }
            }
        }
        ("agreement_draft", "terms") => {
            let Value::Object(t) = v else { return };
            for party in ["principal", "caregiver"] {
                if let Some(Value::Object(p)) = t.get_mut(party) {
                    if let Some(id) = p.get_mut("id_number") {
                        update(id, normalize_id);
                    }
                    if let Some(phone) = p.get_mut("phone") {
                        update(phone, normalize_phone);
                    }
                    if let Some(r) = p.get_mut("relation") {
                        update(r, normalize_code);
                    }
                }
            }
            if let Some(Value::Array(contacts)) = t.get_mut("emergency_contacts") {
                for c in contacts {
                    if let Some(phone) = c.get_mut("phone") {
                        update(phone, normalize_phone);
                    }
                }
            }
            for date in ["period_start", "period_end"] {
                if let Some(d) = t.get_mut(date) {
                    update(d, normalize_date);
                }
            }
            if let Some(Value::Object(c)) = t.get_mut("child") {
                if let Some(d) = c.get_mut("birth_date") {
                    update(d, normalize_date);
                }
            }
            if let Some(r) = t.get_mut("renewal") {
                update(r, normalize_code);
            }
        }
        (_, schema::VOID_FIELD) => {
            if let Value::Object(m) = v {
                if let Some(r) = m.get_mut("reason") {
                    update(r, clean_text);
                }
            }
        }
        _ => {}
    }
}

/// Normalises every field of a row of `table` in place (see [`normalize_field`]).
pub fn normalize_fields(table: &str, fields: &mut Fields) {
    for (name, v) in fields.iter_mut() {
        normalize_field(table, name, v);
    }
}

/// An ID number as typed, put in its stored form: full-width digits and letters made
/// ASCII (a Chinese keyboard often types `３７０６…`), every space (of any width) and
/// zero-width mark removed, a final `x` made `X`. Anything else is kept, so that the
/// check that follows ([`crate::id_number::parse_id_number`]) can say which character
/// is wrong.
pub fn normalize_id_number(typed: &str) -> String {
    ascii_form(typed)
        .chars()
        .filter(|c| !c.is_whitespace() && !is_invisible(*c))
        .map(|c| if c == 'x' { 'X' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn full_width_forms_and_invisible_marks_become_plain_ascii() {
        assert_eq!(ascii_form("３７０６ＸｘＡ－"), "3706XxA-");
        assert_eq!(ascii_form("a\u{200b}b\u{feff}"), "ab");
        assert!(matches!(ascii_form("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn free_text_keeps_its_chinese_punctuation_and_loses_its_surrounding_spaces() {
        assert_eq!(
            clean_text("　孩子状态良好，奶奶照顾周到。\n"),
            "孩子状态良好，奶奶照顾周到。"
        );
        assert_eq!(clean_text("a\u{0}b\tc"), "ab\tc");
    }

    #[test]
    fn dates_are_read_as_people_write_them() {
        for typed in [
            "2015-01-01",
            "2015/1/1",
            "2015.01.1",
            " ２０１５－０１－０１ ",
            "2015年1月1日",
            "2015年01月01",
        ] {
            assert_eq!(normalize_date(typed), "2015-01-01", "{typed}");
        }
        assert_eq!(normalize_date("1/1/2015"), "1/1/2015");
        assert_eq!(
            normalize_date("2018/2/30"),
            "2018-02-30",
            "kept for the validator to refuse"
        );
        assert_eq!(normalize_date("15/1/1"), "15/1/1");
        assert_eq!(normalize_timestamp("2026/5/18 15:20"), "2026-05-18 15:20");
        assert_eq!(
            normalize_timestamp("２０２６－０５－１８Ｔ１５：２０"),
            "2026-05-18T15:20"
        );
    }

    #[test]
    fn phones_and_codes_are_read_as_typed() {
        assert_eq!(normalize_phone("１３８ １２３４ ５６７８"), "138 1234 5678");
        assert_eq!(normalize_phone("（0535）6212345"), "0535-6212345");
        assert_eq!(normalize_phone("0535—6212345"), "0535-6212345");
        assert_eq!(normalize_code(" Left_Behind "), "left_behind");
    }

    #[test]
    fn an_empty_optional_text_is_not_filled_in() {
        let mut v = json!("  ");
        normalize_field("child", "notes", &mut v);
        assert_eq!(v, Value::Null);
        let mut v = json!(" ");
        normalize_field("child", "name", &mut v);
        assert_eq!(
            v,
            json!(""),
            "a required field stays, for the validator to name"
        );
    }

    #[test]
    fn signed_text_is_never_touched() {
        let mut v = json!("  text\n");
        normalize_field("agreement_version", "canonical_text", &mut v);
        assert_eq!(v, json!("  text\n"));
    }
}
