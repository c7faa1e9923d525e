//! Every problem of a record at once. A form is checked as it is typed, before anyone
//! signs: a rule that stopped at the first error made a person fix one thing, save,
//! read the next, and a grandmother sign three times. So the record rules collect all
//! they find ([`Problems`]); a save refuses with the first that blocks, and a draft's
//! check (`check_draft` on the device) lists them all, blocking or only a warning.

use crate::error::DomainError;
use serde::Serialize;

/// One thing wrong with a record, or worth a second look.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What, in Chinese and English, and the field at fault.
    pub error: DomainError,
    /// Whether it stops the save (`false`: a warning the director may save over, such
    /// as an abnormal area on a green visit).
    pub blocks: bool,
}

/// The problems found so far, in the order the rules found them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// None yet.
    pub fn new() -> Problems {
        Problems(Vec::new())
    }

    /// A problem that stops the save.
    pub fn block(&mut self, e: DomainError) {
        self.0.push(Problem {
            error: e,
            blocks: true,
        });
    }

    /// A problem the director may save over (said, never hidden).
    pub fn warn(&mut self, e: DomainError) {
        self.0.push(Problem {
            error: e,
            blocks: false,
        });
    }

    /// Keeps the error of a check, if it failed (blocking); answers whether it passed.
    pub fn check(&mut self, r: Result<(), DomainError>) -> bool {
        match r {
            Ok(()) => true,
            Err(e) => {
                self.block(e);
                false
            }
        }
    }

    /// Keeps the error of a check that gives a value, if it failed; the value else.
    pub fn take<T>(&mut self, r: Result<T, DomainError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.block(e);
                None
            }
        }
    }

    /// Adds another list's problems.
    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }

    /// Whether a problem names `field` (or a field under it: `checklist.health`).
    pub fn on_field(&self, field: &str) -> bool {
        self.0.iter().any(|p| {
            p.error.field.as_deref().is_some_and(|f| {
                f == field
                    || f.strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
        })
    }

    /// Whether nothing blocks.
    pub fn none_blocking(&self) -> bool {
        self.0.iter().all(|p| !p.blocks)
    }

    /// The first problem that blocks, as a save's refusal.
    pub fn first_blocking(self) -> Result<(), DomainError> {
        match self.0.into_iter().find(|p| p.blocks) {
            Some(p) => Err(p.error),
            None => Ok(()),
        }
    }
}
