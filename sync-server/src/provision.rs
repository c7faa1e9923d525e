//! Quarantine decisions: a revoked (lost) phone's handed-over changes are applied only
//! when a person accepts them, through the same ingest rules as any push. (Devices set
//! up without a code are provisioned by [`crate::enrollment::provision_device`].)

use crate::error::StoreError;
use crate::store::{Database, PushBatch, PushOutcome};
use uuid::Uuid;

/// Applies a revoked device's quarantined changes as if the device had pushed them
/// (every rule of ingest applies: scope, schema, exactly once), then forgets them.
pub async fn accept_quarantine(
    db: &dyn Database,
    device_id: Uuid,
) -> Result<PushOutcome, StoreError> {
    let mut auth = db
        .device_by_id(device_id)
        .await?
        .ok_or_else(|| StoreError::Invalid(format!("no device {device_id}")))?;
    let held = db.quarantined(Some(device_id)).await?;
    let changes: Vec<_> = held.into_iter().map(|q| q.change).collect();
    let op_ids: Vec<Uuid> = changes.iter().map(|c| c.op_id).collect();
    // The decision is a person's: the device stays revoked, its changes go in.
    auth.revoked = false;
    let now = crate::model::clock::now_ms();
    let out = db
        .push(
            &auth,
            PushBatch {
                changes,
                heartbeat: Default::default(),
                now_ms: now,
                // Stamps were checked when the phone was alive; a quarantine may be
                // reviewed much later.
                max_ahead_ms: u64::MAX / 4,
            },
        )
        .await?;
    db.clear_quarantine(device_id, op_ids).await?;
    Ok(out)
}
