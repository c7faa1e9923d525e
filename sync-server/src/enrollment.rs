//! Enrollment, once: how a device comes to hold a token. Three ways in, one service:
//! - an admin issues a one-time code ([`issue_code`]: CLI, console, demo seed);
//! - a phone trades the code for a token ([`enroll_with_code`]: `POST /v1/enroll`);
//! - an admin sets up a device without a code ([`provision_device`]: phones handed out
//!   ready, the load generator), consuming an internal code at once.
//!
//! Every path mints the token the same way (random, shown once, stored as SHA-256)
//! and registers the device the same way ([`redeem`]): the rule is [`decide`], here,
//! once; the store reads the code and the device ([`AccountStore::enrollment_state`])
//! and writes what was decided only if what it read is unchanged (marking the code
//! used and creating the device in one transaction, or replacing the token), so two
//! tries racing each other are decided one after the other.
//!
//! **Enrollment is safe to retry**, like every other request of the sync protocol: the
//! server may have used the code while the phone never got the answer (a lost
//! response, an app killed before its PIN was chosen — the phone keeps the answer only
//! in memory until then). The device the code enrolled may therefore trade the same
//! code again, as long as the device is not revoked, the code has not expired and the
//! token it was given was never presented on a request (`token_used_ms`, recorded by
//! [`AccountStore::authenticate`]): it gets a new token, the old one stops working, and
//! nothing else changes (the same device row, account and scopes). Any other reuse of
//! a code is `code_used`.

use crate::error::StoreError;
use crate::model::DeviceAuth;
use crate::store::{AccountStore, EnrollCodeRecord, EnrollRefusal, EnrollmentState, NewDevice};
use serde::Serialize;
use sync_core::wire::{codes, EnrollRequest, EnrollResponse};
use uuid::Uuid;

/// Why an enrollment was refused (each a stable wire code).
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("this enrollment code is not valid")]
    InvalidCode,
    #[error("this enrollment code was already used; ask for a new one")]
    CodeUsed,
    #[error("this enrollment code has expired; ask for a new one")]
    CodeExpired,
    #[error("this device id is already enrolled")]
    DeviceExists,
    #[error("device_name or app_version too long")]
    TooLong,
    #[error("no account {0}")]
    NoAccount(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EnrollError {
    /// The stable code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            EnrollError::InvalidCode => codes::INVALID_CODE,
            EnrollError::CodeUsed => codes::CODE_USED,
            EnrollError::CodeExpired => codes::CODE_EXPIRED,
            EnrollError::DeviceExists => codes::DEVICE_EXISTS,
            EnrollError::TooLong => codes::BAD_VALUE,
            EnrollError::NoAccount(_) => codes::NOT_FOUND,
            EnrollError::Store(_) => codes::STORAGE_UNAVAILABLE,
        }
    }
}

/// A freshly issued one-time code, to show once.
#[derive(Clone)]
pub struct IssuedCode {
    pub code: String,
    pub login: String,
    pub expires_ms: i64,
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCode")
            .field("login", &self.login)
            .field("code", &"<redacted>")
            .finish()
    }
}

/// Mints and stores a one-time enrollment code for the account `login`.
pub async fn issue_code(
    db: &dyn AccountStore,
    login: &str,
    ttl_hours: u64,
    now_ms: i64,
) -> Result<IssuedCode, EnrollError> {
    let account = db
        .account_by_login(login)
        .await?
        .ok_or_else(|| EnrollError::NoAccount(login.to_string()))?;
    let minted = crate::auth::mint_code();
    let expires_ms = now_ms + (ttl_hours.min(24 * 365) as i64) * 3_600_000;
    db.add_enroll_code(
        EnrollCodeRecord {
            code_id: minted.code_id.clone(),
            account_id: account.id,
            secret_hash: minted.secret_hash.clone(),
            expires_ms,
            used: false,
            used_by: None,
        },
        now_ms,
    )
    .await?;
    Ok(IssuedCode {
        code: minted.code,
        login: login.to_string(),
        expires_ms,
    })
}

/// Trades a one-time code for a device token (`POST /v1/enroll`).
pub async fn enroll_with_code(
    db: &dyn AccountStore,
    req: EnrollRequest,
    now_ms: i64,
) -> Result<EnrollResponse, EnrollError> {
    if req.device_name.chars().count() > 100 || req.app_version.chars().count() > 40 {
        return Err(EnrollError::TooLong);
    }
    let (code_id, secret) = crate::auth::split_code(&req.code).ok_or(EnrollError::InvalidCode)?;
    let record = db
        .enroll_code(&code_id)
        .await?
        .ok_or(EnrollError::InvalidCode)?;
    let hash = record.secret_hash.clone();
    let ok = tokio::task::spawn_blocking(move || crate::auth::verify_secret(&secret, &hash))
        .await
        .unwrap_or(false);
    if !ok {
        return Err(EnrollError::InvalidCode);
    }
    if record.used && record.used_by != Some(req.device_id) {
        return Err(EnrollError::CodeUsed);
    }
    // A code this device used already may be redeemed again (see the module
    // documentation); the store decides that atomically.
    if record.expires_ms <= now_ms {
        return Err(EnrollError::CodeExpired);
    }
    let (token, auth) = register(
        db,
        &code_id,
        req.device_id,
        req.device_name,
        req.app_version,
        now_ms,
    )
    .await?;
    Ok(answer(auth, token))
}

/// What a provisioned device needs to sync: the enrollment answer and its login.
#[derive(Clone, Debug, Serialize)]
pub struct Provisioned {
    pub login: String,
    #[serde(flatten)]
    pub enrollment: EnrollResponse,
}

/// Provisions one new device for the account `login`, without a code to type.
pub async fn provision_device(
    db: &dyn AccountStore,
    login: &str,
    device_name: &str,
    now_ms: i64,
) -> Result<Provisioned, EnrollError> {
    let (token, auth) = provision(db, login, device_name, now_ms).await?;
    Ok(Provisioned {
        login: login.to_string(),
        enrollment: answer(auth, token),
    })
}

/// A device the server itself writes through for `login` (the demo seed, the
/// benchmarks): provisioned like any other, its token thrown away.
pub async fn server_side_device(
    db: &dyn AccountStore,
    login: &str,
    device_name: &str,
    now_ms: i64,
) -> Result<DeviceAuth, EnrollError> {
    Ok(provision(db, login, device_name, now_ms).await?.1)
}

async fn provision(
    db: &dyn AccountStore,
    login: &str,
    device_name: &str,
    now_ms: i64,
) -> Result<(String, DeviceAuth), EnrollError> {
    let account = db
        .account_by_login(login)
        .await?
        .ok_or_else(|| EnrollError::NoAccount(login.to_string()))?;
    let code_id = format!("prov-{}", Uuid::now_v7().simple());
    db.add_enroll_code(
        EnrollCodeRecord {
            code_id: code_id.clone(),
            account_id: account.id,
            // Not an argon2 hash: no secret can ever match it, and it is used below.
            secret_hash: "!provisioned".into(),
            expires_ms: now_ms + 60_000,
            used: false,
            used_by: None,
        },
        now_ms,
    )
    .await?;
    register(
        db,
        &code_id,
        Uuid::now_v7(),
        device_name.to_string(),
        "provisioned".into(),
        now_ms,
    )
    .await
}

async fn register(
    db: &dyn AccountStore,
    code_id: &str,
    device_id: Uuid,
    name: String,
    app_version: String,
    now_ms: i64,
) -> Result<(String, DeviceAuth), EnrollError> {
    let (token, token_hash) = crate::auth::mint_token();
    let device = NewDevice {
        device_id,
        name,
        app_version,
        token_hash,
    };
    match redeem(db, code_id, device, now_ms).await? {
        Ok(auth) => Ok((token, auth)),
        Err(EnrollRefusal::CodeUsed) => Err(EnrollError::CodeUsed),
        Err(EnrollRefusal::DeviceExists) => Err(EnrollError::DeviceExists),
    }
}

/// What an enrollment does, given the code and the device as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A new device: mark the code used by it and create its row.
    Register,
    /// The device this code enrolled asks again (its answer may have been lost): give it
    /// a new token in place of the one it holds (`expected`), nothing else changes.
    RedeemAgain {
        account_id: i64,
        expected: [u8; 32],
    },
    Refuse(EnrollRefusal),
}

/// The enrollment rule (see the module documentation): a code not used yet enrolls a
/// device id not known yet; a code is redeemed again by the device it enrolled while
/// that device is not revoked, the code has not expired and the device's token was
/// never presented. Another code for a known device id is `DeviceExists` (the code
/// stays unused); any other reuse is `CodeUsed`.
pub fn decide(state: &EnrollmentState, device_id: Uuid, now_ms: i64) -> Decision {
    let Some(code) = &state.code else {
        return Decision::Refuse(EnrollRefusal::CodeUsed);
    };
    let enrolled_by_it = code.used_by == Some(device_id);
    match &state.device {
        None if !code.used => Decision::Register,
        None => Decision::Refuse(EnrollRefusal::CodeUsed),
        Some(d)
            if enrolled_by_it
                && !d.revoked
                && !d.token_used
                && code.expires_ms > now_ms
                && d.account_id == code.account_id =>
        {
            Decision::RedeemAgain {
                account_id: d.account_id,
                expected: d.token_hash,
            }
        }
        Some(_) if !enrolled_by_it => Decision::Refuse(EnrollRefusal::DeviceExists),
        Some(_) => Decision::Refuse(EnrollRefusal::CodeUsed),
    }
}

/// How often a decision is taken again when the state it read changed before it was
/// written (another try of the same enrollment won the race).
const REDEEM_TRIES: usize = 8;

/// Registers `device` with the code as [`decide`] says, writing only if the state read
/// is unchanged; a race lost is decided again on the new state.
pub async fn redeem(
    db: &dyn AccountStore,
    code_id: &str,
    device: NewDevice,
    now_ms: i64,
) -> Result<Result<DeviceAuth, EnrollRefusal>, StoreError> {
    for _ in 0..REDEEM_TRIES {
        let state = db.enrollment_state(code_id, device.device_id).await?;
        let account_id = match decide(&state, device.device_id, now_ms) {
            Decision::Refuse(r) => return Ok(Err(r)),
            Decision::Register => {
                if !db
                    .enroll_new_device(code_id, device.clone(), now_ms)
                    .await?
                {
                    continue;
                }
                state.code.map(|c| c.account_id)
            }
            Decision::RedeemAgain {
                account_id,
                expected,
            } => {
                if !db
                    .replace_device_token(device.device_id, expected, device.token_hash)
                    .await?
                {
                    continue;
                }
                Some(account_id)
            }
        };
        let principal = match account_id {
            Some(a) => db.principal(a).await?,
            None => None,
        }
        .ok_or_else(|| StoreError::Corrupt("an enrolled device without its account".into()))?;
        return Ok(Ok(DeviceAuth {
            device_id: device.device_id,
            revoked: false,
            principal,
        }));
    }
    Err(StoreError::Invalid(
        "enrollment: the code kept changing while it was redeemed".into(),
    ))
}

fn answer(auth: DeviceAuth, token: String) -> EnrollResponse {
    EnrollResponse {
        device_id: auth.device_id,
        token,
        account_id: auth.account_id,
        role: auth.role.as_str().to_string(),
        scopes: auth.principal.read_scopes,
        server_time_ms: crate::model::clock::now_ms(),
        village_names: Default::default(),
    }
}

/// Names the villages of an enrollment answer from the roster, so the phone shows
/// 演示村1 rather than a code. A failure to read the names leaves them out (the phone
/// falls back to codes); it never fails the enrollment.
pub async fn name_villages(db: &dyn crate::store::ConsoleStore, answer: &mut EnrollResponse) {
    if let Ok(names) = db.place_names(&answer.scopes).await {
        answer.village_names = names;
    }
}

impl From<EnrollError> for StoreError {
    fn from(e: EnrollError) -> StoreError {
        match e {
            EnrollError::Store(e) => e,
            other => StoreError::Invalid(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EnrolledDevice;

    const NOW: i64 = 1_760_000_000_000;

    fn code(used_by: Option<Uuid>) -> EnrollCodeRecord {
        EnrollCodeRecord {
            code_id: "c".into(),
            account_id: 7,
            secret_hash: String::new(),
            expires_ms: NOW + 1000,
            used: used_by.is_some(),
            used_by,
        }
    }

    fn device(token_used: bool, revoked: bool) -> EnrolledDevice {
        EnrolledDevice {
            account_id: 7,
            revoked,
            token_used,
            token_hash: [1; 32],
        }
    }

    #[test]
    fn a_code_enrolls_once_and_is_redeemed_again_only_by_its_device_before_its_token_is_used() {
        let (me, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let state = |c, d| EnrollmentState {
            code: Some(c),
            device: d,
        };
        assert_eq!(
            decide(&state(code(None), None), me, NOW),
            Decision::Register
        );
        assert_eq!(
            decide(&state(code(Some(me)), Some(device(false, false))), me, NOW),
            Decision::RedeemAgain {
                account_id: 7,
                expected: [1; 32]
            }
        );
        for (d, why) in [
            (device(true, false), "its token was presented"),
            (device(false, true), "the device is revoked"),
        ] {
            assert_eq!(
                decide(&state(code(Some(me)), Some(d)), me, NOW),
                Decision::Refuse(EnrollRefusal::CodeUsed),
                "{why}"
            );
        }
        assert_eq!(
            decide(
                &state(code(Some(me)), Some(device(false, false))),
                me,
                NOW + 1000
            ),
            Decision::Refuse(EnrollRefusal::CodeUsed),
            "expired"
        );
        assert_eq!(
            decide(&state(code(Some(other)), None), me, NOW),
            Decision::Refuse(EnrollRefusal::CodeUsed),
            "another device's code"
        );
        assert_eq!(
            decide(&state(code(None), Some(device(false, false))), me, NOW),
            Decision::Refuse(EnrollRefusal::DeviceExists),
            "a known device id with a new code: the code stays unused"
        );
    }
}
