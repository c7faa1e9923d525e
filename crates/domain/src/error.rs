//! The one error type of the domain: a stable code for machines and the same sentence
//! in plain Chinese (shown first in the app) and in English.

use serde::Serialize;

/// A rule a record broke, said so a child director can act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{en}")]
pub struct DomainError {
    /// Stable code, e.g. `invalid_id_number`, `unknown_category`, `child_not_found`.
    pub code: &'static str,
    /// The field at fault, when there is one.
    pub field: Option<String>,
    /// 给用户看的中文说明。
    pub zh: String,
    /// The same sentence in English.
    pub en: String,
}

impl DomainError {
    /// A rule broken, with its stable code and the sentence in Chinese and English.
    pub fn new(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> DomainError {
        DomainError {
            code,
            field: None,
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The same error, naming the field at fault (for the form to highlight).
    pub fn on_field(mut self, field: impl Into<String>) -> DomainError {
        self.field = Some(field.into());
        self
    }
}

impl From<sync_core::SchemaError> for DomainError {
    fn from(e: sync_core::SchemaError) -> DomainError {
        use sync_core::SchemaError as S;
        match &e {
            S::UnknownTable(t) => {
                DomainError::new(e.code(), format!("未知的记录类型“{t}”"), e.to_string())
            }
            S::UnknownField { field, .. } => {
                DomainError::new(e.code(), format!("未知的字段“{field}”"), e.to_string())
                    .on_field(field.clone())
            }
            S::BadValue { field, problem, .. } => DomainError::new(
                e.code(),
                format!(
                    "“{}”填写有误：{}",
                    crate::labels::field_label_zh(field),
                    crate::labels::problem_zh(problem)
                ),
                e.to_string(),
            )
            .on_field(field.clone()),
            S::WriteOnce { field, .. } => DomainError::new(
                e.code(),
                "这条记录保存后不能修改，只能作废后重新登记",
                e.to_string(),
            )
            .on_field(field.clone()),
        }
    }
}
