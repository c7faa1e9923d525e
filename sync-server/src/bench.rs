//! Benchmarks (filled in a later increment).
use crate::error::StoreError;
use crate::settings::Settings;
pub async fn run(_s: Settings, _c: usize, _b: usize, _d: usize) -> Result<String, StoreError> {
    Err(StoreError::Invalid("not yet".into()))
}
