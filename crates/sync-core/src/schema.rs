//! How a synced table is described: the mechanism. The `domain` crate holds the one
//! declarative list of Tonghu's tables built from these types; the device and the
//! server both validate every change against it with [`TableSpec::validate`].

use crate::change::Change;
use serde_json::Value;

/// How a table's rows may change after they are first written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TableKind {
    /// Any field may be written again; the merge rule decides.
    Mutable,
    /// Written once (a visit, a photo, a signed agreement version). After creation only
    /// the fields listed as `after_creation` (a void with its reason) may be written.
    AppendOnly,
}

/// The type of a field's JSON value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ValueType {
    /// A string of at most `max_chars` characters.
    Text {
        max_chars: usize,
    },
    /// A whole number within bounds.
    Integer {
        min: i64,
        max: i64,
    },
    Bool,
    /// A `YYYY-MM-DD` calendar date.
    Date,
    /// A UUID naming another row (or blob).
    RowRef,
    /// One of a fixed list of codes.
    Code(&'static [&'static str]),
    /// A list of distinct codes from a fixed list.
    CodeSet(&'static [&'static str]),
    /// A JSON object or array whose shape the domain validates; bounded in size.
    Json {
        max_bytes: usize,
    },
}

/// One field of a synced table.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: ValueType,
    /// Whether `null` is allowed (clearing the field).
    pub nullable: bool,
    /// For append-only tables: this field may be written after the row is created
    /// (e.g. `voided`). Ignored for mutable tables.
    pub after_creation: bool,
    /// Written only by the server's own replica (rows the server authors: active
    /// discovery's tasks, the county's decisions). A device's change to it is refused
    /// by the server's ingest, so a phone cannot forge what the server decided.
    pub server_only: bool,
}

/// One synced table.
#[derive(Clone, Copy, Debug)]
pub struct TableSpec {
    pub name: &'static str,
    pub kind: TableKind,
    pub fields: &'static [FieldSpec],
}

/// Why a change does not fit the schema. `code` is stable for machines; the message is
/// for logs and developers (user-facing text is translated by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown table {0:?}")]
    UnknownTable(String),
    #[error("unknown field {table}.{field}")]
    UnknownField { table: String, field: String },
    #[error("field {table}.{field}: {problem}")]
    BadValue {
        table: String,
        field: String,
        problem: String,
    },
    #[error("{table}.{field} is write-once: this record cannot be changed after it was created")]
    WriteOnce { table: String, field: String },
}

impl SchemaError {
    /// A stable machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            SchemaError::UnknownTable(_) => "unknown_table",
            SchemaError::UnknownField { .. } => "unknown_field",
            SchemaError::BadValue { .. } => "bad_value",
            SchemaError::WriteOnce { .. } => "write_once",
        }
    }
}

impl TableSpec {
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks that a change names a known field and carries a value of its type.
    /// `row_exists` says whether the change comes after the row's creating write on the
    /// validating replica (a device: the row exists; the server: the row exists and the
    /// change is not part of the write that created it): append-only rows then accept
    /// only `after_creation` fields.
    pub fn validate(&self, change: &Change, row_exists: bool) -> Result<(), SchemaError> {
        self.validate_field(&change.field, &change.value, row_exists)
    }

    /// [`TableSpec::validate`] for a field and value not (yet) wrapped in a change.
    pub fn validate_field(
        &self,
        field: &str,
        value: &Value,
        row_exists: bool,
    ) -> Result<(), SchemaError> {
        let spec = self.field(field).ok_or_else(|| SchemaError::UnknownField {
            table: self.name.to_string(),
            field: field.chars().take(64).collect(),
        })?;
        if self.kind == TableKind::AppendOnly && row_exists && !spec.after_creation {
            return Err(SchemaError::WriteOnce {
                table: self.name.to_string(),
                field: spec.name.to_string(),
            });
        }
        spec.check_value(value)
            .map_err(|problem| SchemaError::BadValue {
                table: self.name.to_string(),
                field: spec.name.to_string(),
                problem,
            })
    }
}

impl FieldSpec {
    /// A field of the given type, not nullable, write-once in append-only tables.
    pub const fn new(name: &'static str, ty: ValueType) -> FieldSpec {
        FieldSpec {
            name,
            ty,
            nullable: false,
            after_creation: false,
            server_only: false,
        }
    }

    /// The same field, allowing `null`.
    pub const fn nullable(mut self) -> FieldSpec {
        self.nullable = true;
        self
    }

    /// The same field, writable after an append-only row was created.
    pub const fn after_creation(mut self) -> FieldSpec {
        self.after_creation = true;
        self
    }

    /// The same field, written only by the server's own replica (see
    /// [`FieldSpec::server_only`]).
    pub const fn server_only(mut self) -> FieldSpec {
        self.server_only = true;
        self
    }

    /// Checks a JSON value against this field's type.
    pub fn check_value(&self, v: &Value) -> Result<(), String> {
        if v.is_null() {
            return if self.nullable {
                Ok(())
            } else {
                Err("may not be empty".into())
            };
        }
        match self.ty {
            ValueType::Text { max_chars } => match v.as_str() {
                Some(s) if s.chars().count() <= max_chars => Ok(()),
                Some(_) => Err(format!("longer than {max_chars} characters")),
                None => Err("expected text".into()),
            },
            ValueType::Integer { min, max } => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(()),
                Some(n) => Err(format!("{n} outside {min}..={max}")),
                None => Err("expected a whole number".into()),
            },
            ValueType::Bool => v
                .as_bool()
                .map(|_| ())
                .ok_or_else(|| "expected true or false".into()),
            ValueType::Date => match v.as_str().map(|s| (s, check_iso_date(s))) {
                Some((_, Ok(()))) => Ok(()),
                Some((s, Err(DateProblem::NoSuchDate))) => Err(format!(
                    "no such date {:?}: that day does not exist",
                    s.chars().take(12).collect::<String>()
                )),
                Some((s, Err(DateProblem::BeforeMinYear))) => {
                    Err(format!("the date {s} is before {MIN_YEAR}"))
                }
                _ => Err("expected a date YYYY-MM-DD".into()),
            },
            ValueType::RowRef => match v.as_str().map(uuid::Uuid::parse_str) {
                Some(Ok(_)) => Ok(()),
                _ => Err("expected a record id (UUID)".into()),
            },
            ValueType::Code(codes) => match v.as_str() {
                Some(s) if codes.contains(&s) => Ok(()),
                Some(s) => Err(format!(
                    "unknown code {:?}",
                    s.chars().take(40).collect::<String>()
                )),
                None => Err("expected a code".into()),
            },
            ValueType::CodeSet(codes) => {
                let arr = v.as_array().ok_or("expected a list of codes")?;
                let mut seen = std::collections::BTreeSet::new();
                for item in arr {
                    let s = item.as_str().ok_or("expected a list of codes")?;
                    if !codes.contains(&s) {
                        return Err(format!(
                            "unknown code {:?}",
                            s.chars().take(40).collect::<String>()
                        ));
                    }
                    if !seen.insert(s) {
                        return Err(format!("code {s:?} listed twice"));
                    }
                }
                Ok(())
            }
            ValueType::Json { max_bytes } => {
                if !(v.is_object() || v.is_array()) {
                    return Err("expected an object or list".into());
                }
                let n = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX);
                if n > max_bytes {
                    return Err(format!("{n} bytes, limit {max_bytes}"));
                }
                Ok(())
            }
        }
    }
}

/// The earliest year a date field may hold.
pub const MIN_YEAR: u32 = 1900;

/// What is wrong with a date that is not a valid `YYYY-MM-DD` date. The three are told
/// apart because a person fixes them differently: a typing slip, a day the calendar
/// does not have, a year before any record we keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateProblem {
    /// Not of the shape `YYYY-MM-DD` (four, two and two ASCII digits).
    Format,
    /// The shape is right but the calendar has no such day (month 13, 30 February, …).
    NoSuchDate,
    /// A real date before [`MIN_YEAR`].
    BeforeMinYear,
}

/// Checks a `YYYY-MM-DD` Gregorian date from [`MIN_YEAR`] on. Never panics: the text
/// is read as bytes and only ASCII digits are accepted.
pub fn check_iso_date(s: &str) -> Result<(), DateProblem> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        part.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(DateProblem::Format);
    }
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return Err(DateProblem::Format);
    };
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(DateProblem::NoSuchDate);
    }
    if y < MIN_YEAR {
        return Err(DateProblem::BeforeMinYear);
    }
    Ok(())
}

/// The number of days of month `m` (1–12) of year `y` in the Gregorian calendar.
pub fn days_in_month(y: u32, m: u32) -> u32 {
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

/// Whether `s` is a valid `YYYY-MM-DD` Gregorian date from [`MIN_YEAR`] on.
pub fn is_iso_date(s: &str) -> bool {
    check_iso_date(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_refused_for_what_is_wrong_with_them() {
        assert_eq!(check_iso_date("2024-02-29"), Ok(()));
        assert_eq!(check_iso_date("1900-01-01"), Ok(()));
        assert_eq!(check_iso_date("2023-02-29"), Err(DateProblem::NoSuchDate));
        assert_eq!(check_iso_date("2023-13-01"), Err(DateProblem::NoSuchDate));
        assert_eq!(check_iso_date("2023-04-31"), Err(DateProblem::NoSuchDate));
        assert_eq!(check_iso_date("2023-04-00"), Err(DateProblem::NoSuchDate));
        assert_eq!(
            check_iso_date("1899-12-31"),
            Err(DateProblem::BeforeMinYear)
        );
        assert_eq!(check_iso_date("2023-4-1"), Err(DateProblem::Format));
        assert_eq!(check_iso_date("2023-+4-01"), Err(DateProblem::Format));
        assert_eq!(check_iso_date("２０２３-04-01"), Err(DateProblem::Format));
        assert_eq!(check_iso_date("2023-0４-1"), Err(DateProblem::Format));
        assert_eq!(check_iso_date(""), Err(DateProblem::Format));
    }

    #[test]
    fn a_date_value_says_which_problem_it_has() {
        let f = FieldSpec::new("birth_date", ValueType::Date);
        let p = |s: &str| f.check_value(&Value::from(s)).unwrap_err();
        assert!(p("2023-02-29").starts_with("no such date"));
        assert!(p("1899-12-31").contains("before 1900"));
        assert!(p("soon").starts_with("expected a date"));
    }
}
