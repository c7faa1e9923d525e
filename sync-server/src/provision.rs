//! Devices set up by an admin rather than enrolled with a code: for a county that hands
//! out phones already set up, and for the load generator. Each provisioned device gets
//! a random token (shown once, stored only as its SHA-256), exactly like enrollment;
//! the one-time code behind it is consumed at once and has no usable secret.
//!
//! Also the quarantine decisions: a revoked phone's handed-over changes are applied
//! only when a person accepts them.

use crate::error::StoreError;
use crate::store::{Database, EnrollCodeRecord, EnrollRefusal, NewDevice, PushBatch, PushOutcome};
use serde::Serialize;
use uuid::Uuid;

/// What the device needs to sync (the same shape as the enrollment answer).
#[derive(Clone, Debug, Serialize)]
pub struct Provisioned {
    pub login: String,
    pub device_id: Uuid,
    pub token: String,
    pub account_id: i64,
    pub role: String,
    pub scopes: Vec<String>,
    pub server_time_ms: u64,
}

/// Provisions one new device for the account `login`.
pub async fn provision_device(
    db: &dyn Database,
    login: &str,
    device_name: &str,
) -> Result<Provisioned, StoreError> {
    let account = db
        .account_by_login(login)
        .await?
        .ok_or_else(|| StoreError::Invalid(format!("no account {login}")))?;
    let now = crate::handlers::now_ms() as i64;
    let code_id = format!("prov-{}", Uuid::now_v7().simple());
    db.add_enroll_code(
        EnrollCodeRecord {
            code_id: code_id.clone(),
            account_id: account.id,
            // Not an argon2 hash: no secret can ever match it, and it is used below.
            secret_hash: "!provisioned".into(),
            expires_ms: now + 60_000,
            used: false,
        },
        now,
    )
    .await?;
    let (token, token_hash) = crate::auth::mint_token();
    let device = NewDevice {
        device_id: Uuid::now_v7(),
        name: device_name.to_string(),
        app_version: "provisioned".into(),
        token_hash,
    };
    match db.enroll_device(&code_id, device, now).await? {
        Ok(auth) => Ok(Provisioned {
            login: login.to_string(),
            device_id: auth.device_id,
            token,
            account_id: auth.account_id,
            role: auth.role.as_str().to_string(),
            scopes: auth.read_scopes,
            server_time_ms: crate::handlers::now_ms(),
        }),
        Err(EnrollRefusal::CodeUsed) | Err(EnrollRefusal::DeviceExists) => Err(
            StoreError::Invalid("provisioning raced with itself; try again".into()),
        ),
    }
}

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
    let now = crate::handlers::now_ms();
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
